//! How hook-client is linked.
//!
//! Claude Code starts hook-client once per hook event, and a whole hook (spawn to exit, hookd's
//! answer included) must cost no more than `/bin/true`. Measured (`hook-bench spawn`,
//! BENCHMARKS.md): 1.34-1.39x `/bin/true` linked dynamically, 1.01-1.04x static glibc (its own
//! start-up, about a hundred `cpuid` instructions that each exit to the hypervisor on a VM,
//! is what keeps it above), 0.84x static musl, and less without any C library. So:
//!
//! - **Release builds on Linux x86_64 and aarch64** (glibc or musl targets alike) link no C
//!   library ([`no_libc`]): `cfg(nolibc)` selects src/rt.rs (the program's own start-up,
//!   allocator and `memcpy`), and the link is `-nostartfiles -nostdlib -static-pie` with
//!   `hook_client_start` as the entry point.
//! - **Other builds with glibc** (debug builds, whose unwinding panics need the standard
//!   library, and other architectures) are linked statically against glibc, so that a debug
//!   hook-client looks like a release one to `hookctl doctor` and the tests: the script asks the
//!   linker for a static PIE (`-static-pie`, which the C compiler driver turns into glibc's
//!   `rcrt1.o` start file and no dynamic loader), and it answers the libraries the Rust standard
//!   library names (`-lgcc_s -lutil -lrt -lpthread -lm -ldl -lc`, searched as shared libraries)
//!   with linker scripts of the same names in a directory only this binary's link searches,
//!   each naming glibc's and libgcc's static archives (`libc.a`, `libgcc_eh.a`, `libgcc.a`,
//!   ...). Cargo has no per-package `-C target-feature=+crt-static` (in the workspace it would
//!   also reach the proc-macros, which cannot be static). When the static archives or
//!   `rcrt1.o` are not installed (`glibc-static` on Fedora), the binary is linked dynamically
//!   and the build prints a warning. `HOOK_CLIENT_DYNAMIC=1` asks for the dynamic build.
//! - Other targets (musl debug builds, static already; macOS) are left alone.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The libraries std links on `*-linux-gnu` (library/std and library/unwind) and the static
/// archives that stand in for each. Every script names the whole set so that the order the
/// linker meets them in does not matter.
const LIBS: &[&str] = &["gcc_s", "util", "rt", "pthread", "m", "dl", "c"];
const ARCHIVES: &[&str] = &[
    "libc.a",
    "libpthread.a",
    "librt.a",
    "libm.a",
    "libdl.a",
    "libutil.a",
    "libgcc_eh.a",
    "libgcc.a",
];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=HOOK_CLIENT_DYNAMIC");
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-env-changed=TARGET_CC");
    println!("cargo:rustc-check-cfg=cfg(nolibc)");
    println!("cargo:rustc-check-cfg=cfg(raw_syscalls)");
    let var = |k: &str| env::var(k).unwrap_or_default();
    // src/sys/linux.rs: system calls made directly, in every build on these targets.
    let arch = var("CARGO_CFG_TARGET_ARCH");
    let raw_syscalls =
        var("CARGO_CFG_TARGET_OS") == "linux" && (arch == "x86_64" || arch == "aarch64");
    if raw_syscalls {
        println!("cargo:rustc-cfg=raw_syscalls");
        if var("PROFILE") == "release" {
            no_libc();
            return;
        }
    }
    if var("CARGO_CFG_TARGET_OS") != "linux" || var("CARGO_CFG_TARGET_ENV") != "gnu" {
        return;
    }
    // Already static (`RUSTFLAGS=-C target-feature=+crt-static --target ...`).
    if var("CARGO_CFG_TARGET_FEATURE")
        .split(',')
        .any(|f| f == "crt-static")
    {
        return;
    }
    if env::var_os("HOOK_CLIENT_DYNAMIC").is_some_and(|v| v == "1") {
        warn_dynamic("HOOK_CLIENT_DYNAMIC=1");
        return;
    }
    // The C compiler rustc links with: `CC` for the target, as the cc crate would pick it, or
    // the system `cc`.
    let target = var("TARGET");
    let target_cc = [
        format!("CC_{target}"),
        format!("CC_{}", target.replace('-', "_")),
        "TARGET_CC".into(),
    ]
    .iter()
    .find_map(|k| env::var(k).ok().filter(|v| !v.is_empty()));
    // Cross-compiling without a C compiler named for the target: the system `cc` would find
    // this machine's archives, for another architecture.
    if target_cc.is_none() && target != var("HOST") {
        warn_dynamic(&format!(
            "cross-compiling to {target} with no CC_{target} to find its static libraries"
        ));
        return;
    }
    let cc = target_cc
        .or_else(|| env::var("CC").ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "cc".into());
    let mut found = Vec::new();
    for name in ARCHIVES.iter().chain(&["rcrt1.o"]) {
        match locate(&cc, name) {
            Some(p) => found.push(p),
            None => {
                warn_dynamic(&format!(
                    "`{cc} -print-file-name={name}` finds no {name} (glibc's static \
                     libraries: libc6-dev on Debian and Ubuntu, glibc-static on Fedora)"
                ));
                return;
            }
        }
    }
    found.pop(); // rcrt1.o: only its presence matters (the driver adds it for -static-pie)
    let dir = PathBuf::from(var("OUT_DIR")).join("static-libs");
    let group = format!(
        "/* hook-client/build.rs: link the static archives instead */\nGROUP ( {} )\n",
        found.iter().map(|p| quote(p)).collect::<Vec<_>>().join(" ")
    );
    let written = fs::create_dir_all(&dir).and_then(|()| {
        LIBS.iter()
            .try_for_each(|l| fs::write(dir.join(format!("lib{l}.so")), &group))
    });
    if let Err(e) = written {
        warn_dynamic(&format!("cannot write {}: {e}", dir.display()));
        return;
    }
    // Only the hook-client binary: its unit tests and anything else link as usual.
    println!("cargo:rustc-link-arg-bin=hook-client=-static-pie");
    println!("cargo:rustc-link-arg-bin=hook-client=-L{}", dir.display());
}

/// The release build on Linux x86_64 and aarch64 links no C library (src/rt.rs): the program
/// starts at its own entry point (`hook_client_start`) and is linked as a static
/// position-independent executable with nothing but itself (`-nostartfiles -nostdlib
/// -static-pie`). Sets `cfg(nolibc)`.
///
/// A program without the standard library cannot unwind, so this needs `panic = "abort"`,
/// which the workspace's release profile (and those inheriting it) sets and its debug profile
/// does not. Cargo does not tell build scripts the panic strategy (`CARGO_CFG_PANIC` is the
/// target's default), so the profile stands for it, and src/main.rs refuses to compile a
/// `nolibc` build that would unwind.
fn no_libc() {
    println!("cargo:rustc-cfg=nolibc");
    // The entry point has its own name: on musl, rustc links the C library's start files
    // (`rcrt1.o`, with its `_start`) whatever the link arguments say; unreferenced, they are
    // dropped with the rest of the unused sections.
    for arg in [
        "-nostartfiles",
        "-nostdlib",
        "-static-pie",
        "-Wl,--entry=hook_client_start",
    ] {
        println!("cargo:rustc-link-arg-bin=hook-client={arg}");
    }
}

/// The absolute path the C compiler driver would link for `name`, if it has one.
fn locate(cc: &str, name: &str) -> Option<PathBuf> {
    let out = Command::new(cc)
        .arg(format!("-print-file-name={name}"))
        .output()
        .ok()?;
    let p = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    // A driver that does not know the file prints the bare name back.
    (out.status.success() && p.is_absolute() && p.is_file()).then(|| canonical(&p))
}

fn canonical(p: &Path) -> PathBuf {
    fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

/// A path as a linker-script file name.
fn quote(p: &Path) -> String {
    format!("\"{}\"", p.display())
}

fn warn_dynamic(why: &str) {
    println!(
        "cargo:warning=hook-client is linked dynamically ({why}): each hook costs about a \
         quarter more than with the static build; `hookctl doctor` says how to get the fast one \
         (README, Install)"
    );
}
