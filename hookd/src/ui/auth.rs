//! Who may read the dashboard: one-time login codes and the cookie sessions they buy.
//!
//! - A **code** is minted for `hookctl ui` over the Unix socket (whose peer check admits only
//!   hookd's own uid): 128 bits from the kernel's random source, valid `[ui] code_ttl` (at most
//!   60 s) and once. It travels in a URL, which is why it is short-lived and single-use.
//! - Redeeming it (`GET /ui/login?code=…`) creates a **session**: 256 random bits in an
//!   `HttpOnly; SameSite=Strict; Path=/ui` cookie, valid until it has been idle for
//!   [`SESSION_IDLE`]. Sessions live in memory only: a restart of hookd logs everyone out.
//!
//! Secrets are never kept: the tables hold SHA-256 digests, looked up by digest and compared in
//! constant time, so neither the lookup nor the comparison tells an attacker how much of a
//! guess was right. Both tables are bounded ([`MAX_CODES`], [`MAX_SESSIONS`]); past the bound
//! the oldest entry goes.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// A session unused this long is gone.
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// Codes waiting to be redeemed at most.
pub const MAX_CODES: usize = 64;
/// Sessions at most.
pub const MAX_SESSIONS: usize = 256;
/// Bytes of a login code (128 bits).
pub const CODE_BYTES: usize = 16;
/// Bytes of a session id (256 bits).
const SESSION_BYTES: usize = 32;
/// The session cookie's name.
pub const COOKIE: &str = "hookd_ui";

type Digest32 = [u8; 32];

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Not hex of the right length.
    Malformed,
    /// Never minted, already used, or forgotten.
    Unknown,
    /// Minted, but its time is up.
    Expired,
}

impl Refused {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Unknown => "unknown or already used",
            Self::Expired => "expired",
        }
    }
}

/// The codes and sessions.
pub struct Logins {
    code_ttl: Duration,
    codes: Mutex<HashMap<Digest32, Instant>>,
    sessions: Mutex<HashMap<Digest32, Session>>,
}

struct Session {
    /// When it was last used.
    last: Instant,
}

fn digest(secret: &[u8]) -> Digest32 {
    Sha256::digest(secret).into()
}

/// Constant-time equality of two digests.
fn ct_eq(a: &Digest32, b: &Digest32) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= std::hint::black_box(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// `n` random bytes from the kernel.
fn random<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let t = text.as_bytes();
    if t.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in t.chunks_exact(2).enumerate() {
        let s = std::str::from_utf8(pair).ok()?;
        out[i] = u8::from_str_radix(s, 16).ok()?;
    }
    Some(out)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Logins {
    pub fn new(code_ttl: Duration) -> Self {
        Self {
            code_ttl,
            codes: Mutex::new(HashMap::new()),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// How long a new code works.
    pub fn code_ttl(&self) -> Duration {
        self.code_ttl
    }

    /// A new one-time code (hex).
    ///
    /// # Errors
    ///
    /// When the kernel's random source cannot be read.
    pub fn mint_code(&self, now: Instant) -> std::io::Result<String> {
        let code = random::<CODE_BYTES>()?;
        let mut codes = lock(&self.codes);
        // Expired codes stay until here, so that redeeming one says "expired", not "unknown".
        codes.retain(|_, minted| now.saturating_duration_since(*minted) <= 2 * self.code_ttl);
        if codes.len() >= MAX_CODES
            && let Some(oldest) = codes.iter().min_by_key(|(_, t)| **t).map(|(k, _)| *k)
        {
            codes.remove(&oldest);
        }
        codes.insert(digest(&code), now);
        Ok(hex(&code))
    }

    /// Redeems a code: a new session's cookie value, or why not. A code works once, whatever
    /// the outcome of that one use.
    ///
    /// # Errors
    ///
    /// When the code is malformed, unknown, used or expired, or no randomness for the session.
    pub fn redeem(&self, code: &str, now: Instant) -> Result<String, Refused> {
        let code = unhex::<CODE_BYTES>(code.trim()).ok_or(Refused::Malformed)?;
        let want = digest(&code);
        let minted = {
            let mut codes = lock(&self.codes);
            let found = codes.keys().find(|k| ct_eq(k, &want)).copied();
            found.and_then(|k| codes.remove(&k))
        };
        let Some(minted) = minted else {
            return Err(Refused::Unknown);
        };
        if now.saturating_duration_since(minted) >= self.code_ttl {
            return Err(Refused::Expired);
        }
        let id = random::<SESSION_BYTES>().map_err(|_| Refused::Unknown)?;
        let mut sessions = lock(&self.sessions);
        sessions.retain(|_, s| now.saturating_duration_since(s.last) < SESSION_IDLE);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.last).map(|(k, _)| *k)
        {
            sessions.remove(&oldest);
        }
        sessions.insert(digest(&id), Session { last: now });
        Ok(hex(&id))
    }

    /// Whether a `Cookie` header carries a live session; a live one is touched (its idle
    /// time starts again).
    pub fn check_cookie(&self, header: Option<&[u8]>, now: Instant) -> bool {
        let Some(value) = header.and_then(|h| cookie_value(h, COOKIE)) else {
            return false;
        };
        let Some(id) = unhex::<SESSION_BYTES>(value) else {
            return false;
        };
        self.touch(&digest(&id), now)
    }

    /// Whether the session with this cookie value is live, touching it.
    pub fn touch_value(&self, value: &str, now: Instant) -> bool {
        unhex::<SESSION_BYTES>(value).is_some_and(|id| self.touch(&digest(&id), now))
    }

    fn touch(&self, want: &Digest32, now: Instant) -> bool {
        let mut sessions = lock(&self.sessions);
        let Some(key) = sessions.keys().find(|k| ct_eq(k, want)).copied() else {
            return false;
        };
        let live = sessions
            .get(&key)
            .is_some_and(|s| now.saturating_duration_since(s.last) < SESSION_IDLE);
        if live {
            if let Some(s) = sessions.get_mut(&key) {
                s.last = now;
            }
        } else {
            sessions.remove(&key);
        }
        live
    }

    /// Sessions held now.
    #[cfg(test)]
    pub fn sessions(&self) -> usize {
        lock(&self.sessions).len()
    }
}

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`).
pub fn cookie_value<'a>(header: &'a [u8], name: &str) -> Option<&'a str> {
    std::str::from_utf8(header)
        .ok()?
        .split(';')
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_works_once_and_only_in_time() {
        let l = Logins::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let code = l.mint_code(t0).unwrap();
        assert_eq!(code.len(), 2 * CODE_BYTES);
        let cookie = l.redeem(&code, t0 + Duration::from_secs(59)).unwrap();
        assert_eq!(l.redeem(&code, t0), Err(Refused::Unknown), "used");
        let late = l.mint_code(t0).unwrap();
        assert_eq!(
            l.redeem(&late, t0 + Duration::from_secs(60)),
            Err(Refused::Expired)
        );
        assert_eq!(
            l.redeem(&late, t0),
            Err(Refused::Unknown),
            "gone once tried"
        );
        assert_eq!(l.redeem("zz", t0), Err(Refused::Malformed));
        assert_eq!(
            l.redeem(&"0".repeat(2 * CODE_BYTES), t0),
            Err(Refused::Unknown)
        );
        let header = format!("theme=dark; {COOKIE}={cookie}");
        assert!(l.check_cookie(Some(header.as_bytes()), t0));
        assert!(!l.check_cookie(Some(b"hookd_ui=00"), t0));
        assert!(!l.check_cookie(None, t0));
        // Idle for the whole idle time: gone; used within it: kept.
        let t1 = t0 + SESSION_IDLE - Duration::from_secs(1);
        assert!(l.check_cookie(Some(header.as_bytes()), t1));
        assert!(!l.check_cookie(Some(header.as_bytes()), t1 + SESSION_IDLE));
        assert_eq!(l.sessions(), 0);
    }

    #[test]
    fn the_tables_are_bounded() {
        let l = Logins::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let first = l.mint_code(t0).unwrap();
        for i in 1..=MAX_CODES as u64 {
            l.mint_code(t0 + Duration::from_millis(i)).unwrap();
        }
        assert_eq!(lock(&l.codes).len(), MAX_CODES);
        assert_eq!(
            l.redeem(&first, t0),
            Err(Refused::Unknown),
            "the oldest went"
        );
        for _ in 0..MAX_SESSIONS + 5 {
            let c = l.mint_code(t0).unwrap();
            l.redeem(&c, t0).unwrap();
        }
        assert_eq!(l.sessions(), MAX_SESSIONS);
    }

    #[test]
    fn codes_are_random() {
        let l = Logins::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let a = l.mint_code(t0).unwrap();
        let b = l.mint_code(t0).unwrap();
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}
