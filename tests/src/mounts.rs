//! Small file systems for fault tests: a private mount namespace for the calling test thread,
//! and tmpfs mounts that can be filled, made read-only and unmounted.
//!
//! `unshare(CLONE_NEWNS)` applies to the calling thread only (each test runs on its own thread)
//! and to the processes it starts afterwards (hookd, hook-client, hookctl), so a test's mounts
//! are invisible to the rest of the machine and vanish with it. Mounting needs root (or
//! `CAP_SYS_ADMIN`); [`private_namespace`] says when it is not available so a test can use its
//! fallback and say so. Elsewhere (macOS) every mount fails with `Unsupported`, which the tests
//! report as a skip like a missing permission: the crate still builds there (`.ci/darwin-check`).

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn cstr(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other)
}

#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn check(rc: libc::c_int, what: &str) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        let e = io::Error::last_os_error();
        Err(io::Error::new(e.kind(), format!("{what}: {e}")))
    }
}

/// Moves the calling thread into a new mount namespace whose mounts do not propagate back.
///
/// # Errors
///
/// When not permitted (not root, or a container without `CAP_SYS_ADMIN`), or not on Linux.
#[cfg(target_os = "linux")]
pub fn private_namespace() -> io::Result<()> {
    #[allow(unsafe_code)]
    // SAFETY: plain syscalls with valid, NUL-terminated arguments.
    unsafe {
        check(libc::unshare(libc::CLONE_NEWNS), "unshare(CLONE_NEWNS)")?;
        check(
            libc::mount(
                c"none".as_ptr(),
                c"/".as_ptr(),
                std::ptr::null(),
                libc::MS_REC | libc::MS_PRIVATE,
                std::ptr::null(),
            ),
            "making / private",
        )
    }
}

/// Mount namespaces are Linux's.
///
/// # Errors
///
/// Always: `Unsupported`.
#[cfg(not(target_os = "linux"))]
pub fn private_namespace() -> io::Result<()> {
    Err(not_linux("a private mount namespace"))
}

#[cfg(not(target_os = "linux"))]
fn not_linux(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, format!("{what} needs Linux"))
}

/// `mount(2)` flags used here (none exist elsewhere: every mount fails there).
#[cfg(target_os = "linux")]
mod flags {
    pub const REMOUNT: libc::c_ulong = libc::MS_REMOUNT;
    pub const RDONLY: libc::c_ulong = libc::MS_RDONLY;
}
#[cfg(not(target_os = "linux"))]
mod flags {
    pub const REMOUNT: libc::c_ulong = 0;
    pub const RDONLY: libc::c_ulong = 0;
}

/// `mount(2)` of a tmpfs on `path` with `flags` and the tmpfs options `opts`.
#[cfg(target_os = "linux")]
fn mount_tmpfs(
    path: &Path,
    flags: libc::c_ulong,
    opts: Option<&CString>,
    what: &str,
) -> io::Result<()> {
    let target = cstr(path)?;
    let data = opts.map_or(std::ptr::null(), |o| o.as_ptr().cast());
    #[allow(unsafe_code)]
    // SAFETY: valid NUL-terminated strings; the data argument is null or a C string, as tmpfs
    // expects.
    check(
        unsafe {
            libc::mount(
                c"tmpfs".as_ptr(),
                target.as_ptr(),
                c"tmpfs".as_ptr(),
                flags,
                data,
            )
        },
        what,
    )
}

#[cfg(not(target_os = "linux"))]
fn mount_tmpfs(
    _path: &Path,
    _flags: libc::c_ulong,
    _opts: Option<&CString>,
    what: &str,
) -> io::Result<()> {
    Err(not_linux(what))
}

/// A tmpfs mounted on a directory; unmounted (lazily) on drop.
pub struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `"4m"`) on `path` (created if needed), mode 0700.
    ///
    /// # Errors
    ///
    /// When mounting is not permitted.
    pub fn mount(path: &Path, size: &str) -> io::Result<Self> {
        Self::mount_with_mode(path, size, 0o700)
    }

    /// Mounts a tmpfs of `size` on `path` (created if needed) with root directory `mode` (e.g.
    /// `0o1777` for a shared `/tmp`).
    ///
    /// # Errors
    ///
    /// When mounting is not permitted.
    pub fn mount_with_mode(path: &Path, size: &str, mode: u32) -> io::Result<Self> {
        std::fs::create_dir_all(path)?;
        let opts =
            CString::new(format!("size={size},mode={mode:04o}")).map_err(io::Error::other)?;
        mount_tmpfs(path, 0, Some(&opts), "mounting tmpfs")?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// The mount point.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Remounts read-only (`true`) or read-write.
    ///
    /// # Errors
    ///
    /// `EBUSY` while a file on it is open for writing.
    pub fn set_read_only(&self, ro: bool) -> io::Result<()> {
        let flags = flags::REMOUNT | if ro { flags::RDONLY } else { 0 };
        mount_tmpfs(&self.path, flags, None, "remounting")
    }

    /// Grows (or shrinks) the file system to `size` (e.g. `"48m"`) in place, as an operator
    /// growing a full volume would: files stay open and in place.
    ///
    /// # Errors
    ///
    /// When remounting fails (a size below what is in use).
    pub fn resize(&self, size: &str) -> io::Result<()> {
        let opts = CString::new(format!("size={size}")).map_err(io::Error::other)?;
        mount_tmpfs(&self.path, flags::REMOUNT, Some(&opts), "resizing tmpfs")
    }

    /// Fills the file system: writes `filler` until `ENOSPC`. Returns the bytes written.
    ///
    /// # Errors
    ///
    /// Errors other than `ENOSPC`.
    pub fn fill(&self, filler: &str) -> io::Result<u64> {
        fill(&self.path.join(filler))
    }
}

/// Writes zeros to `path` until the file system is full; returns the bytes written.
///
/// # Errors
///
/// Errors other than "no space".
pub fn fill(path: &Path) -> io::Result<u64> {
    use std::io::Write;
    let mut f = std::fs::File::create(path)?;
    let block = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    let mut size = block.len();
    loop {
        match f.write(&block[..size]) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.raw_os_error() == Some(libc::ENOSPC) => {
                // Take the last partial blocks too, so not even a page is left.
                if size == 1 {
                    return Ok(total);
                }
                size /= 2;
            }
            Err(e) => return Err(e),
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if let Ok(target) = cstr(&self.path) {
            #[allow(unsafe_code)]
            // SAFETY: a valid NUL-terminated path.
            unsafe {
                libc::umount2(target.as_ptr(), libc::MNT_DETACH);
            }
        }
    }
}

/// The built binaries, opened before a mount hides them (a checkout under `/tmp` disappears
/// when a test mounts a tmpfs over `/tmp`), to be made visible where the test needs them.
pub struct Binaries {
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    files: Vec<(String, std::fs::File)>,
}

impl Binaries {
    /// Opens `names` in [`crate::harness::bin_dir`].
    ///
    /// # Errors
    ///
    /// When one is not built.
    pub fn open(names: &[&str]) -> io::Result<Self> {
        let files = names
            .iter()
            .map(|n| {
                let p = crate::harness::bin_dir().join(n);
                std::fs::File::open(&p)
                    .map(|f| ((*n).to_string(), f))
                    .map_err(|e| {
                        io::Error::new(
                            e.kind(),
                            format!(
                                "{}: {e} (run `cargo build --workspace --bins` first)",
                                p.display()
                            ),
                        )
                    })
            })
            .collect::<io::Result<_>>()?;
        Ok(Self { files })
    }

    /// Bind mounts are Linux's.
    ///
    /// # Errors
    ///
    /// Always: `Unsupported`.
    #[cfg(not(target_os = "linux"))]
    pub fn install(&mut self, _dir: &Path) -> io::Result<PathBuf> {
        Err(not_linux("bind-mounting a binary"))
    }

    /// Makes them appear in `dir` (created 0755 if needed): each is bind-mounted from the file
    /// opened earlier (through `/proc/self/fd`), so nothing is copied and no file is ever open
    /// for writing while a test thread may `exec` it (that fails with `ETXTBSY`). Needs the
    /// private mount namespace the caller is in; returns `dir`.
    ///
    /// # Errors
    ///
    /// I/O or mount errors.
    #[cfg(target_os = "linux")]
    pub fn install(&mut self, dir: &Path) -> io::Result<PathBuf> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::PermissionsExt;
        std::fs::create_dir_all(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
        for (name, file) in &self.files {
            let dest = dir.join(name);
            std::fs::File::create(&dest)?;
            let source = cstr(Path::new(&format!("/proc/self/fd/{}", file.as_raw_fd())))?;
            let target = cstr(&dest)?;
            #[allow(unsafe_code)]
            // SAFETY: valid NUL-terminated paths; a bind mount takes no type or data.
            check(
                unsafe {
                    libc::mount(
                        source.as_ptr(),
                        target.as_ptr(),
                        std::ptr::null(),
                        libc::MS_BIND,
                        std::ptr::null(),
                    )
                },
                "bind-mounting a binary",
            )?;
        }
        Ok(dir.to_path_buf())
    }
}
