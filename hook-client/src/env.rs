//! The process's arguments and environment, as the kernel (or the C start-up) passed them.
#![allow(unsafe_code)] // reads the NUL-terminated arrays handed to the program at start

use alloc::string::String;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicPtr, Ordering::Relaxed};

/// `envp`: NUL-terminated `NAME=value` strings, then NULL. Set once, at start.
static ENVP: AtomicPtr<*const u8> = AtomicPtr::new(core::ptr::null_mut());

/// A NUL-terminated string's bytes.
///
/// # Safety
///
/// `s` must be a NUL-terminated string that lives as long as the process.
unsafe fn c_bytes(s: *const u8) -> &'static [u8] {
    let mut n = 0;
    // SAFETY: the caller's contract.
    unsafe {
        while *s.add(n) != 0 {
            n += 1;
        }
        core::slice::from_raw_parts(s, n)
    }
}

/// Records the environment and returns the arguments after the program name (each lossily
/// decoded, as `std::env::args_os().to_string_lossy()` would).
///
/// # Safety
///
/// `argv` must hold `argc` NUL-terminated strings and `envp` be a NULL-terminated array of
/// them, all living as long as the process (as the kernel and the C start-up give them).
pub unsafe fn init(argc: usize, argv: *const *const u8, envp: *const *const u8) -> Vec<String> {
    ENVP.store(envp.cast_mut(), Relaxed);
    (1..argc)
        // SAFETY: the caller's contract.
        .map(|i| String::from_utf8_lossy(unsafe { c_bytes(*argv.add(i)) }).into_owned())
        .collect()
}

/// Every `NAME=value` entry of the environment.
fn entries() -> impl Iterator<Item = &'static [u8]> {
    let mut at = ENVP.load(Relaxed).cast_const();
    core::iter::from_fn(move || {
        // SAFETY: `init`'s contract: a NULL-terminated array of NUL-terminated strings.
        unsafe {
            if at.is_null() || (*at).is_null() {
                return None;
            }
            let entry = c_bytes(*at);
            at = at.add(1);
            Some(entry)
        }
    })
}

/// The value of `name`, as bytes (`std::env::var_os`).
#[must_use]
pub fn var_os(name: &str) -> Option<&'static [u8]> {
    entries().find_map(|e| {
        e.strip_prefix(name.as_bytes())
            .and_then(|rest| rest.strip_prefix(b"="))
    })
}

/// The value of `name` when it is UTF-8 (`std::env::var(name).ok()`).
#[must_use]
pub fn var(name: &str) -> Option<&'static str> {
    var_os(name).and_then(|v| core::str::from_utf8(v).ok())
}

/// The value of `name` when set and not empty.
#[must_use]
pub fn non_empty(name: &str) -> Option<&'static [u8]> {
    var_os(name).filter(|v| !v.is_empty())
}

/// The environment as `execve` wants it (without the final NULL).
#[must_use]
pub fn envp() -> Vec<*const u8> {
    entries().map(<[u8]>::as_ptr).collect()
}
