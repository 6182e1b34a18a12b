//! The HTTP listener's hold on the shared secret: the token of `<state_dir>/http-token`
//! ([`hook_protocol::http::Token`], shared with hookctl), re-read when the file changes.
//! `hookctl http rotate-token` replaces the file ([`Token::rotate`]) and the running hookd takes
//! the new token without a restart (checked once a second, and at once when a request presents
//! a token that is not the one held); the old one then stops working.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use hook_protocol::http::{Auth, Stamp, TOKEN_FILE, Token, create};

/// The token the listener checks requests against, re-read when its file changes.
pub struct LiveToken {
    path: PathBuf,
    current: RwLock<Token>,
    /// The file version `current` came from; the lock also serialises re-reads.
    stamp: Mutex<Stamp>,
}

impl std::fmt::Debug for LiveToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveToken")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LiveToken {
    /// Reads `<state_dir>/http-token`, creating it first when absent; whether it was created.
    ///
    /// # Errors
    ///
    /// As [`Token::load_or_create`].
    pub fn load_or_create(state_dir: &Path) -> io::Result<(Self, bool)> {
        let path = state_dir.join(TOKEN_FILE);
        let created = create(&path)?;
        let (token, stamp) = Token::load(&path)?;
        Ok((
            Self {
                path,
                current: RwLock::new(token),
                stamp: Mutex::new(stamp),
            },
            created,
        ))
    }

    /// Checks an `Authorization` header value against the token held. A token that is not the
    /// one held makes the file be looked at first (it may have just been rotated).
    pub fn check(&self, header: Option<&[u8]>) -> Auth {
        let auth = self.held().check(header);
        if auth == Auth::Wrong && self.refresh() {
            return self.held().check(header);
        }
        auth
    }

    fn held(&self) -> std::sync::RwLockReadGuard<'_, Token> {
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the file's token when the file changed since it was last read; whether the token
    /// held changed. A file that is gone or unusable leaves the token held as it was (logged
    /// once per version of the file).
    pub fn refresh(&self) -> bool {
        let mut stamp = self.stamp.lock().unwrap_or_else(PoisonError::into_inner);
        let Ok(meta) = std::fs::symlink_metadata(&self.path) else {
            return false;
        };
        let now = Stamp::of(&meta);
        if now == *stamp {
            return false;
        }
        *stamp = now;
        match Token::load(&self.path) {
            Ok((token, loaded)) => {
                *stamp = loaded;
                let mut held = self.current.write().unwrap_or_else(PoisonError::into_inner);
                if *held == token {
                    return false;
                }
                *held = token;
                tracing::info!(path = %self.path.display(), "HTTP token changed: the new token is in use, the old one is refused");
                true
            }
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "HTTP token file changed but cannot be used; keeping the token held");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_rotated_token_replaces_the_held_one() {
        let dir = tempfile::tempdir().unwrap();
        let (live, created) = LiveToken::load_or_create(dir.path()).unwrap();
        assert!(created);
        let old = std::fs::read_to_string(dir.path().join(TOKEN_FILE)).unwrap();
        let old = old.trim();
        let bearer = |t: &str| format!("Bearer {t}").into_bytes();
        assert_eq!(live.check(Some(&bearer(old))), Auth::Granted);
        assert!(!live.refresh(), "an unchanged file is not re-read");

        let new = Token::rotate(dir.path()).unwrap();
        let new = new.secret().to_string();
        assert_ne!(new, old);
        let meta = std::fs::metadata(dir.path().join(TOKEN_FILE)).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            0o600
        );
        // The new token works at once (a wrong token makes the file be looked at), and the old
        // one no longer does.
        assert_eq!(live.check(Some(&bearer(&new))), Auth::Granted);
        assert_eq!(live.check(Some(&bearer(old))), Auth::Wrong);

        // Rotated again and found by the periodic look: the old one stops at once.
        let third = Token::rotate(dir.path()).unwrap().secret().to_string();
        assert!(live.refresh());
        assert_eq!(live.check(Some(&bearer(&new))), Auth::Wrong);
        assert_eq!(live.check(Some(&bearer(&third))), Auth::Granted);

        // An unusable file keeps the held token; a fixed one is taken.
        let path = dir.path().join(TOKEN_FILE);
        std::fs::write(&path, "short\n").unwrap();
        assert!(!live.refresh());
        assert_eq!(live.check(Some(&bearer(&third))), Auth::Granted);
        std::fs::write(&path, format!("{T}\n")).unwrap();
        assert!(live.refresh());
        assert_eq!(live.check(Some(&bearer(T))), Auth::Granted);
        // No stray temporary files.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [TOKEN_FILE]);
    }
}
