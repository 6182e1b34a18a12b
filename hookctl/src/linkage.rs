//! Whether a hook-client binary is the fast (static) build: `install` and `doctor` say so when
//! the wired client is a dynamically linked one, and how to get the static one.
//!
//! An ELF executable is dynamically linked when it has a `PT_INTERP` program header (the
//! dynamic loader it asks the kernel to run first). Claude Code starts hook-client for every
//! hook event, and the loader's work is much of a dynamic client's cost: a whole hook measured
//! 1.34-1.39x `/bin/true` with a dynamic client, 1.02-1.07x with a static glibc one and
//! 0.79-0.82x with the release build, which links no C library (`hook-bench spawn`,
//! BENCHMARKS.md).

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// How an executable is linked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linkage {
    /// An ELF executable with no program interpreter: static (or static-pie).
    Static,
    /// An ELF executable that names a dynamic loader.
    Dynamic { interpreter: String },
    /// Not an ELF file (a Mach-O binary on macOS, a script): nothing to say.
    NotElf,
}

/// `PT_INTERP`: the program header naming the dynamic loader.
const PT_INTERP: u32 = 3;
/// Bound on the program headers read (a real executable has about a dozen).
const MAX_PHNUM: u16 = 256;

/// Reads `path`'s ELF header and program headers.
///
/// # Errors
///
/// I/O errors, or a file that claims to be ELF but is cut short or malformed.
pub fn of(path: &Path) -> io::Result<Linkage> {
    let mut f = File::open(path)?;
    let mut ident = [0u8; 16];
    match f.read_exact(&mut ident) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(Linkage::NotElf),
        Err(e) => return Err(e),
    }
    if &ident[..4] != b"\x7fELF" {
        return Ok(Linkage::NotElf);
    }
    let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("ELF: {what}"));
    let wide = match ident[4] {
        1 => false,
        2 => true,
        _ => return Err(bad("unknown class")),
    };
    let big = match ident[5] {
        1 => false,
        2 => true,
        _ => return Err(bad("unknown byte order")),
    };
    let u16_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1]];
        if big {
            u16::from_be_bytes(v)
        } else {
            u16::from_le_bytes(v)
        }
    };
    let u32_at = |b: &[u8], o: usize| {
        let v = [b[o], b[o + 1], b[o + 2], b[o + 3]];
        if big {
            u32::from_be_bytes(v)
        } else {
            u32::from_le_bytes(v)
        }
    };
    let u64_at = |b: &[u8], o: usize| {
        let mut v = [0u8; 8];
        v.copy_from_slice(&b[o..o + 8]);
        if big {
            u64::from_be_bytes(v)
        } else {
            u64::from_le_bytes(v)
        }
    };
    // The rest of the ELF header: 52 bytes in all for 32-bit files, 64 for 64-bit ones.
    let mut header = [0u8; 64];
    header[..16].copy_from_slice(&ident);
    let len = if wide { 64 } else { 52 };
    f.read_exact(&mut header[16..len])?;
    let (phoff, phentsize, phnum) = if wide {
        (
            u64_at(&header, 32),
            u16_at(&header, 54),
            u16_at(&header, 56),
        )
    } else {
        (
            u64::from(u32_at(&header, 28)),
            u16_at(&header, 42),
            u16_at(&header, 44),
        )
    };
    let min_entry = if wide { 56 } else { 32 };
    if phnum > MAX_PHNUM || (phnum > 0 && usize::from(phentsize) < min_entry) {
        return Err(bad("implausible program headers"));
    }
    let mut table = vec![0u8; usize::from(phentsize) * usize::from(phnum)];
    f.seek(SeekFrom::Start(phoff))?;
    f.read_exact(&mut table)?;
    for entry in table.chunks_exact(usize::from(phentsize.max(1))) {
        if u32_at(entry, 0) != PT_INTERP {
            continue;
        }
        let (offset, size) = if wide {
            (u64_at(entry, 8), u64_at(entry, 32))
        } else {
            (u64::from(u32_at(entry, 4)), u64::from(u32_at(entry, 16)))
        };
        let mut name = vec![0u8; usize::try_from(size.min(4096)).unwrap_or(4096)];
        f.seek(SeekFrom::Start(offset))?;
        f.read_exact(&mut name)?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        return Ok(Linkage::Dynamic {
            interpreter: String::from_utf8_lossy(&name[..end]).into_owned(),
        });
    }
    Ok(Linkage::Static)
}

/// How to get the static hook-client, for `install` and `doctor`.
pub const HOW_TO_GET_STATIC: &str = "install a release tarball (README, \"From a release \
     tarball\"), or build from source with `cargo build --release`, whose hook-client links no C \
     library on x86_64 and aarch64 Linux (elsewhere it links glibc statically where its static \
     libraries are installed: libc6-dev on Debian/Ubuntu, glibc-static on Fedora); then run \
     `hookctl install` again";

/// One line about a dynamically linked client at `path`, or `None` when it is static or
/// cannot be inspected (a missing client is reported elsewhere).
#[must_use]
pub fn slow_client_note(path: &Path) -> Option<String> {
    match of(path) {
        Ok(Linkage::Dynamic { interpreter }) => Some(format!(
            "{} is dynamically linked (loader {interpreter}): every hook event pays for the \
             dynamic loader, about 1.35x the cost of /bin/true instead of about 0.8x for the \
             release build",
            path.display()
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_test_binary_and_non_elf_files() {
        // The unit-test executable is an ordinary (dynamic, on glibc) build.
        let me = std::env::current_exe().unwrap();
        let got = of(&me).unwrap();
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert!(
                matches!(&got, Linkage::Dynamic { interpreter } if interpreter.contains("ld")),
                "{got:?}"
            );
        }
        let dir = tempfile_dir();
        let script = dir.join("script");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert_eq!(of(&script).unwrap(), Linkage::NotElf);
        let empty = dir.join("empty");
        std::fs::write(&empty, "").unwrap();
        assert_eq!(of(&empty).unwrap(), Linkage::NotElf);
        let cut = dir.join("cut");
        // An ELF identification followed by a cut-short header.
        let mut bytes = b"\x7fELF\x02\x01\x01".to_vec();
        bytes.resize(24, 0);
        std::fs::write(&cut, bytes).unwrap();
        assert!(of(&cut).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("hookctl-linkage-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
