//! The start-up of the release build on Linux: no C library at all.
//!
//! A whole hook is hook-client's start-up, its exchange with hookd and its exit, and start-up
//! is most of it. glibc's start-up, even linked statically, asks the CPU about its caches with
//! about a hundred `cpuid` instructions, each a trip to the hypervisor on a virtual machine:
//! alone, that kept the static glibc build above `/bin/true` (BENCHMARKS.md). So the release
//! build (`panic = "abort"`, which a program without the standard library needs) links no C
//! library: the kernel starts `hook_client_start` below, which relocates the program (it is a static
//! position-independent executable, so its address is randomised like any other), makes its
//! relocated data read-only, and calls [`hook_client::start`] with the arguments and environment
//! from the initial stack. System calls are made directly (`sys`), memory comes from `mmap`
//! (`alloc.rs`), and the few functions the compiler expects a C library to provide (`memcpy`
//! and kin) are here.
//!
//! Debug builds (`panic = "unwind"`, whose runtime needs the standard library) run the same
//! code from glibc's start-up instead (`main.rs`); `hook-client/build.rs` chooses.
#![allow(unsafe_code)] // the program's own start-up: raw pointers into the initial stack and image

use core::panic::PanicInfo;

#[cfg(target_arch = "x86_64")]
core::arch::global_asm!(
    ".globl hook_client_start",
    ".type hook_client_start,@function",
    ".weak _DYNAMIC",
    ".hidden _DYNAMIC",
    "hook_client_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "lea rsi, [rip + _DYNAMIC]",
    "lea rdx, [rip + __ehdr_start]",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

#[cfg(target_arch = "aarch64")]
core::arch::global_asm!(
    ".globl hook_client_start",
    ".type hook_client_start,%function",
    ".weak _DYNAMIC",
    ".hidden _DYNAMIC",
    "hook_client_start:",
    "mov x29, #0",
    "mov x30, #0",
    "mov x0, sp",
    "adrp x1, _DYNAMIC",
    "add x1, x1, :lo12:_DYNAMIC",
    "adrp x2, __ehdr_start",
    "add x2, x2, :lo12:__ehdr_start",
    "bl {entry}",
    "brk #0",
    entry = sym entry,
);

/// `R_X86_64_RELATIVE` / `R_AARCH64_RELATIVE`: the only relocation a static PIE of ours has.
#[cfg(target_arch = "x86_64")]
const RELATIVE: usize = 8;
#[cfg(target_arch = "aarch64")]
const RELATIVE: usize = 1027;

const DT_NULL: usize = 0;
const DT_PLTRELSZ: usize = 2;
const DT_RELA: usize = 7;
const DT_RELSZ: usize = 18;
const DT_TEXTREL: usize = 22;
const DT_RELASZ: usize = 8;
const DT_RELRSZ: usize = 35;
const DT_RELR: usize = 36;
const AT_PAGESZ: usize = 6;
const PT_GNU_RELRO: u32 = 0x6474_e552;
const ET_DYN: u16 = 3;

/// Called by `hook_client_start` with the initial stack (`argc`, `argv`, NULL, `envp`, NULL, auxv),
/// the address of the program's dynamic section (null in a position-dependent build, which
/// needs no relocation: the aarch64 musl target links those) and of its ELF header.
///
/// # Safety
///
/// Only the kernel's initial stack and this program's own image are read.
unsafe extern "C" fn entry(sp: *const usize, dynamic: *const usize, ehdr: usize) -> ! {
    // SAFETY: the kernel lays out the initial stack this way; the image is ours.
    unsafe {
        // What to add to a link-time address: the load address of a position-independent
        // executable (ET_DYN, linked at 0), nothing for a position-dependent one.
        let bias = if *((ehdr + 16) as *const u16) == ET_DYN {
            ehdr
        } else {
            0
        };
        if !dynamic.is_null() && !relocate(bias, dynamic) {
            fatal(b"hook-client: cannot start: a relocation of a kind it does not apply\n");
        }
        let argc = *sp;
        let argv = sp.add(1).cast::<*const u8>();
        let envp = argv.add(argc + 1);
        let mut auxv = envp;
        while !(*auxv).is_null() {
            auxv = auxv.add(1);
        }
        let auxv = auxv.add(1).cast::<usize>();
        protect_relro(ehdr, bias, page_size(auxv));
        hook_client::start(argc, argv, envp)
    }
}

/// Applies the program's relative relocations (`DT_RELA`, and `DT_RELR` when the linker packed
/// them). Runs before anything reads a pointer stored in the image, so it reads none itself.
/// Returns `false` if there is a relocation of another kind.
///
/// # Safety
///
/// `dynamic` and `base` must be this program's dynamic section and load bias.
#[inline(never)]
unsafe fn relocate(base: usize, mut dynamic: *const usize) -> bool {
    let (mut rela, mut relasz, mut relr, mut relrsz) = (0, 0, 0, 0);
    // SAFETY: the dynamic section is an array of (tag, value) pairs ending with DT_NULL; the
    // tables it names are in the image; every relocated address is in the image.
    unsafe {
        loop {
            let (tag, value) = (*dynamic, *dynamic.add(1));
            if tag == DT_NULL {
                break;
            } else if tag == DT_RELA {
                rela = value;
            } else if tag == DT_RELASZ {
                relasz = value;
            } else if tag == DT_RELR {
                relr = value;
            } else if tag == DT_RELRSZ {
                relrsz = value;
            } else if (tag == DT_PLTRELSZ || tag == DT_RELSZ) && value != 0 || tag == DT_TEXTREL {
                // PLT slots, REL-format entries, relocations in text: none of ours; a link
                // that brings them in (a C library's code) must fail here, clearly.
                return false;
            }
            dynamic = dynamic.add(2);
        }
        let mut at = base.wrapping_add(rela) as *const usize;
        let end = at.wrapping_byte_add(relasz);
        while at < end {
            let (offset, info, addend) = (*at, *at.add(1), *at.add(2));
            if info & 0xffff_ffff != RELATIVE {
                return false;
            }
            *(base.wrapping_add(offset) as *mut usize) = base.wrapping_add(addend);
            at = at.add(3);
        }
        // RELR: an address, then bitmaps of the words after it that need the base added.
        let mut at = base.wrapping_add(relr) as *const usize;
        let end = at.wrapping_byte_add(relrsz);
        let mut word: *mut usize = core::ptr::null_mut();
        while at < end {
            let entry = *at;
            if entry & 1 == 0 {
                word = base.wrapping_add(entry) as *mut usize;
                *word = (*word).wrapping_add(base);
                word = word.add(1);
            } else {
                let mut bits = entry >> 1;
                let mut i = 0;
                while bits != 0 {
                    if bits & 1 != 0 {
                        let w = word.add(i);
                        *w = (*w).wrapping_add(base);
                    }
                    bits >>= 1;
                    i += 1;
                }
                word = word.add(usize::BITS as usize - 1);
            }
            at = at.add(1);
        }
    }
    true
}

/// The page size from the auxiliary vector (4096 if it is missing).
///
/// # Safety
///
/// `auxv` must be the kernel's auxiliary vector.
unsafe fn page_size(mut auxv: *const usize) -> usize {
    // SAFETY: (type, value) pairs ending with AT_NULL (0).
    unsafe {
        while *auxv != 0 {
            if *auxv == AT_PAGESZ {
                return *auxv.add(1);
            }
            auxv = auxv.add(2);
        }
    }
    4096
}

/// Makes the relocated read-only data (`PT_GNU_RELRO`) read-only, as a dynamic loader would:
/// the whole pages inside it.
///
/// # Safety
///
/// `ehdr` must be this program's ELF header and `bias` its load bias.
unsafe fn protect_relro(ehdr: usize, bias: usize, page: usize) {
    // SAFETY: the ELF header and program headers of our own image.
    unsafe {
        let phoff = *((ehdr + 32) as *const u64) as usize;
        let phentsize = usize::from(*((ehdr + 54) as *const u16));
        let phnum = usize::from(*((ehdr + 56) as *const u16));
        for i in 0..phnum {
            let ph = ehdr + phoff + i * phentsize;
            if *(ph as *const u32) != PT_GNU_RELRO {
                continue;
            }
            let vaddr = *((ph + 16) as *const u64) as usize;
            let memsz = *((ph + 40) as *const u64) as usize;
            let start = (bias + vaddr) & !(page - 1);
            let end = (bias + vaddr + memsz) & !(page - 1);
            if end > start {
                hook_client::sys::protect_read_only(start, end - start);
            }
        }
    }
}

/// Writes `msg` to stderr and exits; usable before relocation (the message is a literal).
fn fatal(msg: &[u8]) -> ! {
    let _ = hook_client::sys::write(2, msg);
    hook_client::sys::exit(127)
}

/// A bug: says so on stderr and exits with 101, as a Rust program does after a panic; Claude
/// Code shows the line and treats the exit as a hook error.
#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    use core::fmt::Write;
    /// Formats into a fixed buffer: nothing is allocated while panicking.
    struct Buf {
        bytes: [u8; 512],
        len: usize,
    }
    impl Write for Buf {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.bytes.len() - self.len);
            self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            Ok(())
        }
    }
    let mut buf = Buf {
        bytes: [0; 512],
        len: 0,
    };
    let _ = write!(buf, "hook-client: internal error: {info}");
    let _ = hook_client::sys::write(2, &buf.bytes[..buf.len]);
    let _ = hook_client::sys::write(2, b"\n");
    hook_client::sys::exit(101)
}

// The standard library's precompiled `alloc` refers to the unwinder from its (never taken,
// with panic = "abort") unwinding paths; nothing calls these.
#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    fatal(b"hook-client: internal error: unwinding\n")
}

#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

// What the compiler calls for copies, fills and comparisons. Plain loops: this crate is
// `no_builtins` in this build, so they are not turned back into calls to themselves.

/// `memcpy`.
///
/// # Safety
///
/// The C contract: `n` bytes readable at `src`, writable at `dst`, not overlapping.
#[unsafe(no_mangle)]
unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract.
    unsafe { copy_forward(dst, src, n) };
    dst
}

/// `memmove`.
///
/// # Safety
///
/// The C contract: `n` bytes readable at `src` and writable at `dst`.
#[unsafe(no_mangle)]
unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller's contract; copying away from the overlap keeps it correct.
    unsafe {
        if (dst as usize) <= (src as usize) || (dst as usize) >= (src as usize) + n {
            copy_forward(dst, src, n);
        } else {
            let mut i = n;
            while i > 0 {
                i -= 1;
                *dst.add(i) = *src.add(i);
            }
        }
    }
    dst
}

/// Copies word by word, then byte by byte.
///
/// # Safety
///
/// As for `memcpy` (or `dst` below `src` when they overlap).
unsafe fn copy_forward(dst: *mut u8, src: *const u8, n: usize) {
    const W: usize = size_of::<usize>();
    let mut i = 0;
    // SAFETY: the caller's contract; unaligned word reads and writes.
    unsafe {
        while i + W <= n {
            dst.add(i)
                .cast::<usize>()
                .write_unaligned(src.add(i).cast::<usize>().read_unaligned());
            i += W;
        }
        while i < n {
            *dst.add(i) = *src.add(i);
            i += 1;
        }
    }
}

/// `memset`.
///
/// # Safety
///
/// The C contract: `n` bytes writable at `dst`.
#[unsafe(no_mangle)]
unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let b = c as u8;
    let word = usize::from_ne_bytes([b; size_of::<usize>()]);
    let mut i = 0;
    // SAFETY: the caller's contract; unaligned word writes.
    unsafe {
        while i + size_of::<usize>() <= n {
            dst.add(i).cast::<usize>().write_unaligned(word);
            i += size_of::<usize>();
        }
        while i < n {
            *dst.add(i) = b;
            i += 1;
        }
    }
    dst
}

/// `memcmp`.
///
/// # Safety
///
/// The C contract: `n` bytes readable at both.
#[unsafe(no_mangle)]
unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    // SAFETY: the caller's contract.
    unsafe {
        while i < n {
            let (x, y) = (*a.add(i), *b.add(i));
            if x != y {
                return i32::from(x) - i32::from(y);
            }
            i += 1;
        }
    }
    0
}

/// `bcmp`: `memcmp` where only equality matters.
///
/// # Safety
///
/// As for `memcmp`.
#[unsafe(no_mangle)]
unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: the caller's contract.
    unsafe { memcmp(a, b, n) }
}

/// `strlen` (the compiler may call it for C string literals).
///
/// # Safety
///
/// A NUL-terminated string at `s`.
#[unsafe(no_mangle)]
unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller's contract.
    unsafe {
        while *s.add(n) != 0 {
            n += 1;
        }
    }
    n
}
