//! The hook-client executable: how the process starts, then [`hook_client::start`].
//!
//! The release build on Linux x86_64 and aarch64 (`cfg(nolibc)`, hook-client/build.rs) links
//! no C library: the kernel starts `hook_client_start` in [`rt`]. Other builds start from the C
//! library's `main` below and link the standard library, which their unwinding panics (debug
//! builds) or their platform (macOS) need. The program itself is the library (`src/lib.rs`),
//! where its unit tests are; this binary has none (`test = false`: the link arguments of the
//! no-C-library build are for the program only).

// (`cfg(test)`: tools such as `cargo clippy --all-targets` still compile it as a test.)
#![no_std]
#![cfg_attr(not(test), no_main)]
// The release build provides `memcpy` and kin (rt.rs): keep the compiler from turning their
// loops back into calls to themselves.
#![cfg_attr(all(nolibc, not(test)), no_builtins)]

#[cfg(all(nolibc, panic = "unwind", not(test)))]
compile_error!(
    "hook-client's release build links no C library and needs panic = \"abort\" (set in the \
     workspace's [profile.release]); see hook-client/build.rs"
);

#[cfg(any(test, not(nolibc)))]
extern crate std;

#[cfg(all(nolibc, not(test)))]
mod rt;

/// The allocator where system calls are made directly; elsewhere, the C library's.
#[cfg(all(raw_syscalls, not(test)))]
#[global_allocator]
static ALLOCATOR: hook_client::alloc_impl::Bump = hook_client::alloc_impl::Bump::new();

/// The C library's entry point, for builds that start from it.
#[cfg(all(not(nolibc), not(test)))]
#[allow(unsafe_code)] // `no_mangle`: this is the symbol the C runtime calls
#[unsafe(no_mangle)]
extern "C" fn main(
    argc: core::ffi::c_int,
    argv: *const *const u8,
    envp: *const *const u8,
) -> core::ffi::c_int {
    // SAFETY: the C start-up passes `argc` strings in `argv` and the environment in `envp`,
    // valid for the whole run.
    unsafe { hook_client::start(usize::try_from(argc).unwrap_or(0), argv, envp) }
}
