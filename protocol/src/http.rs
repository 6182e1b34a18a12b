//! What hookd's HTTP listener shares with hookctl: the names of its files in the state
//! directory ([`PORT_FILE`], [`TOKEN_FILE`]), the variable hooks expand into the header
//! ([`TOKEN_ENV`]), the URL ([`hook_url`]), and the shared secret: `<state_dir>/http-token`, and
//! checking a request's `Authorization` header against it in constant time.
//!
//! The file is created on first start with 32 random bytes from `/dev/urandom`, hex-encoded,
//! mode 0600, never following a symlink. An existing file is used only when it is a regular
//! file owned by the daemon's user and readable by nobody else; a user may put a token of their
//! own there (32 to 512 characters of the RFC 7235 `token68` set).
//!
//! hookd's listener holds the token as a `LiveToken` (`hookd/src/server/http/token.rs`), which
//! re-reads the file when it changes: `hookctl http rotate-token` replaces it
//! ([`Token::rotate`]) and the running hookd takes the new token without a restart; the old one
//! then stops working.

use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The token file's name in the state directory.
pub const TOKEN_FILE: &str = "http-token";

/// The file holding the bound port, in the state directory.
pub const PORT_FILE: &str = "http-port";

/// The environment variable `hookctl install --http` expands into the `Authorization` header.
///
/// Chosen by experiment with Claude Code 2.1.328 (docs/http.md): with
/// `CLAUDE_CODE_SUBPROCESS_ENV_SCRUB` on (or under GitHub Actions) names with TOKEN, SECRET,
/// KEY, AUTH, PASS… are refused as credentials and expand to ""; this one is not.
pub const TOKEN_ENV: &str = "HOOKD_HTTP_BEARER";

/// The URL Claude Code should POST events to for a listener on `addr`.
#[must_use]
pub fn hook_url(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}/hook")
}

/// What was being done, in front of an I/O error (this crate stays std-only: no `anyhow`).
trait Context<T> {
    fn context(self, what: &str) -> io::Result<T>;
    fn with_context(self, what: impl FnOnce() -> String) -> io::Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: &str) -> io::Result<T> {
        self.with_context(|| what.to_string())
    }

    fn with_context(self, what: impl FnOnce() -> String) -> io::Result<T> {
        self.map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", what())))
    }
}

/// Refuses a token file: an `InvalidData` error with the reason.
macro_rules! bail {
    ($($t:tt)*) => {
        return Err(io::Error::new(ErrorKind::InvalidData, format!($($t)*)))
    };
}

/// Random bytes in a generated token (64 hex characters).
const TOKEN_BYTES: usize = 32;
/// Bounds on a token's length, generated or not.
const MIN_LEN: usize = 32;
const MAX_LEN: usize = 512;

/// What a request's `Authorization` header amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// The right token.
    Granted,
    /// No `Authorization: Bearer …` header at all.
    Missing,
    /// A bearer token that is not the right one.
    Wrong,
}

/// The shared secret.
pub struct Token(Vec<u8>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// Compared in constant time.
impl PartialEq for Token {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Token {
    /// Reads `<state_dir>/http-token`, creating it first when absent. Returns the token and
    /// whether it was created now.
    ///
    /// # Errors
    ///
    /// A file that is not private to this user, not a regular file, or not a valid token; I/O
    /// errors.
    pub fn load_or_create(state_dir: &Path) -> io::Result<(Self, bool)> {
        let path = state_dir.join(TOKEN_FILE);
        let created = create(&path)?;
        let (token, _) = Self::load(&path)?;
        Ok((token, created))
    }

    /// Replaces `<state_dir>/http-token` with a new random token (the shared private-file
    /// writer: a new 0600 file renamed over it, so readers see the old token or the new one), and
    /// returns it. A running hookd takes it within a second.
    ///
    /// # Errors
    ///
    /// I/O errors; the old file is then left as it was.
    pub fn rotate(state_dir: &Path) -> io::Result<Self> {
        let path = state_dir.join(TOKEN_FILE);
        let token = generate().context("reading /dev/urandom")?;
        crate::private::write_private(&path, format!("{token}\n").as_bytes())
            .with_context(|| format!("replacing {}", path.display()))?;
        Ok(Self::load(&path)?.0)
    }

    /// The token's text (what goes after `Bearer `).
    #[must_use]
    pub fn secret(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// Reads and checks the token file at `path`; the token and the version of the file it came
    /// from.
    ///
    /// # Errors
    ///
    /// As [`Token::load_or_create`], but a missing file is an error too.
    pub fn load(path: &Path) -> io::Result<(Self, Stamp)> {
        let f = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(path)
            .with_context(|| format!("opening {} (a symlink is refused)", path.display()))?;
        let meta = f
            .metadata()
            .with_context(|| format!("inspecting {}", path.display()))?;
        let me = crate::private::euid();
        if !meta.is_file() {
            bail!("{} is not a regular file", path.display());
        }
        if meta.uid() != me {
            bail!(
                "{} belongs to uid {}, not to hookd's user ({me}); remove it to get a new token",
                path.display(),
                meta.uid()
            );
        }
        if meta.mode() & 0o077 != 0 {
            bail!(
                "{} is readable by other users (mode {:o}); the HTTP token must be private: \
                 `chmod 600` it if it never left your account, or delete it and restart hookd \
                 for a new one",
                path.display(),
                meta.mode() & 0o777
            );
        }
        let mut text = String::new();
        (&f).take(MAX_LEN as u64 + 2)
            .read_to_string(&mut text)
            .with_context(|| format!("reading {}", path.display()))?;
        let token = text.trim();
        if !(MIN_LEN..=MAX_LEN).contains(&token.len()) || !token.bytes().all(is_token68) {
            bail!(
                "{} does not hold a valid token ({MIN_LEN} to {MAX_LEN} characters of \
                 A-Z a-z 0-9 - . _ ~ + / =); delete it and restart hookd for a new one",
                path.display()
            );
        }
        Ok((Self(token.as_bytes().to_vec()), Stamp::of(&meta)))
    }

    /// A token with this value (tests).
    #[must_use]
    pub fn from_value(v: &str) -> Self {
        Self(v.as_bytes().to_vec())
    }

    /// Checks an `Authorization` header value (`Bearer <token>`, scheme case-insensitive).
    #[must_use]
    pub fn check(&self, header: Option<&[u8]>) -> Auth {
        let Some(presented) = header.and_then(bearer) else {
            return Auth::Missing;
        };
        if ct_eq(presented, &self.0) {
            Auth::Granted
        } else {
            Auth::Wrong
        }
    }
}

/// Creates `path` with a new random token unless it exists (mode 0600, never through a link);
/// whether it was created.
///
/// # Errors
///
/// I/O errors but `AlreadyExists`.
pub fn create(path: &Path) -> io::Result<bool> {
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
    {
        Ok(mut f) => {
            let token = generate().context("reading /dev/urandom")?;
            f.write_all(format!("{token}\n").as_bytes())
                .and_then(|()| f.sync_all())
                .with_context(|| format!("writing {}", path.display()))?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e).with_context(|| format!("creating {}", path.display())),
    }
}

/// What identifies one version of the token file: a replaced file (a rename) has another
/// inode, an edited one another size or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    /// The version of the file `m` describes.
    #[must_use]
    pub fn of(m: &std::fs::Metadata) -> Self {
        Self {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }
}

/// The credentials of a `Bearer` authorization header value.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    let value = value.trim_ascii();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"bearer") || rest.first() != Some(&b' ') {
        return None;
    }
    let token = rest.trim_ascii_start();
    (!token.is_empty()).then_some(token)
}

fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// Equality whose time does not depend on where the inputs differ (the length of the token is
/// not secret: a generated one is always 64 characters).
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= std::hint::black_box(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// 32 random bytes from the kernel, hex-encoded.
fn generate() -> std::io::Result<String> {
    let mut bytes = [0u8; TOKEN_BYTES];
    File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes
        .iter()
        .fold(String::with_capacity(2 * TOKEN_BYTES), |mut s, b| {
            use std::fmt::Write as _;
            let _ = write!(s, "{b:02x}");
            s
        }))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const T: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn bearer_header_forms() {
        let t = Token::from_value(T);
        assert_eq!(
            t.check(Some(format!("Bearer {T}").as_bytes())),
            Auth::Granted
        );
        assert_eq!(
            t.check(Some(format!("bearer   {T} ").as_bytes())),
            Auth::Granted
        );
        assert_eq!(
            t.check(Some(format!("BEARER {T}").as_bytes())),
            Auth::Granted
        );
        assert_eq!(t.check(None), Auth::Missing);
        assert_eq!(t.check(Some(b"Bearer")), Auth::Missing);
        assert_eq!(t.check(Some(b"Bearer ")), Auth::Missing);
        assert_eq!(
            t.check(Some(format!("Basic {T}").as_bytes())),
            Auth::Missing
        );
        assert_eq!(
            t.check(Some(format!("Bearer{T}").as_bytes())),
            Auth::Missing
        );
        assert_eq!(t.check(Some(b"Bearer nope")), Auth::Wrong);
        let mut wrong = T.to_string();
        wrong.replace_range(63.., "0");
        assert_eq!(
            t.check(Some(format!("Bearer {wrong}").as_bytes())),
            Auth::Wrong
        );
        assert_eq!(
            t.check(Some(format!("Bearer {T}0").as_bytes())),
            Auth::Wrong
        );
    }

    #[test]
    fn ct_eq_is_equality() {
        assert!(ct_eq(b"", b""));
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    #[test]
    fn token_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let (a, created) = Token::load_or_create(dir.path()).unwrap();
        assert!(created);
        let path = dir.path().join(TOKEN_FILE);
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.trim().len(), 64);
        assert!(text.trim().bytes().all(|b| b.is_ascii_hexdigit()));
        let (b, created) = Token::load_or_create(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(a.0, b.0);
        // Two daemons' tokens differ.
        let other = tempfile::tempdir().unwrap();
        let (c, _) = Token::load_or_create(other.path()).unwrap();
        assert_ne!(a.0, c.0);
    }

    #[test]
    fn unsafe_token_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(TOKEN_FILE);
        std::fs::write(&path, format!("{T}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = Token::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(e.contains("readable by other users"), "{e}");

        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(Token::load_or_create(dir.path()).is_ok());

        std::fs::write(&path, "short\n").unwrap();
        let e = Token::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(e.contains("valid token"), "{e}");

        std::fs::remove_file(&path).unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, format!("{T}\n")).unwrap();
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(Token::load_or_create(dir.path()).is_err());
    }
}
