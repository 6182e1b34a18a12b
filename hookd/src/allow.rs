//! Allow-once: the user approves one command that hookd denied or asked about, without
//! editing rules.
//!
//! A PreToolUse `deny` or `ask` decided by rules ends its reason with a short code
//! (`(allow once: hookctl allow k7f3q)`). `hookctl allow CODE` (over the owner-checked socket,
//! from outside Claude Code: [`refusal_for_peer`]) turns the code into a grant for exactly
//! that call — the [`key`]: a SHA-256 of the project, the tool and the normalised command
//! (Bash: the command with surrounding blanks trimmed; other tools: their whole input) — for
//! one use (default), the rest of the session the code was given in (`--session`), or a
//! window (`--for 10m`). A grant lifts hookd's own objection only: the call then gets no
//! permission decision from hookd, so Claude Code's own permission flow (its settings' rules,
//! its prompt) still applies, as if hookd had said nothing.
//!
//! Never lifted: a decision that rests on state hookd could not check (a stateful rule
//! failing closed) or on a fail mode (no good rules loaded); decisions of `run` scripts.
//!
//! All in memory on the hook path ([`Allowances`]): codes waiting for approval (kept for
//! [`CODE_TTL_MS`] after they were last shown, never written anywhere) and the live grants,
//! loaded from the store at start, off the async workers. Grants, their uses and revocations
//! are recorded in the store (`allowances` table) with who granted them and when.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use sha2::{Digest, Sha256};

use crate::event::HookEvent;

/// A code not shown again for this long (ms) is forgotten: `hookctl allow` then refuses it.
pub const CODE_TTL_MS: i64 = 3_600_000;
/// A once-only grant not used within this long (ms) lapses.
pub const ONCE_TTL_MS: i64 = 3_600_000;
/// The longest window `--for` accepts (ms): 7 days.
pub const MAX_WINDOW_MS: u64 = 7 * 24 * 3_600_000;
/// Codes waiting at most; the oldest are dropped beyond this.
const MAX_PENDING: usize = 4096;
/// Letters and digits that cannot be misread (no `l`, `o`, `0`, `1`): 32 symbols.
const ALPHABET: &[u8; 32] = b"abcdefghijkmnpqrstuvwxyz23456789";
/// Symbols in a code (32^5: 33 million codes).
pub const CODE_LEN: usize = 5;

/// What a grant covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One use.
    Once,
    /// Every use in the session the code was given in.
    Session,
    /// Every use until the window ends.
    Window,
}

impl Scope {
    /// The scope's name in the store and in listings.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Once => "once",
            Self::Session => "session",
            Self::Window => "window",
        }
    }

    /// Reads a scope's name back.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "once" => Self::Once,
            "session" => Self::Session,
            "window" => Self::Window,
            _ => return None,
        })
    }
}

/// The identity of one call: project, tool and normalised command or input, hashed (hex).
/// `None` for events that are not tool calls.
#[must_use]
pub fn key(project: &str, event: &HookEvent) -> Option<String> {
    let tool = event.tool_name()?;
    let input = event.value().get("tool_input")?;
    let what = match event.bash_command() {
        Some(cmd) => cmd.trim().to_string(),
        None => input.to_json(),
    };
    let mut h = Sha256::new();
    for part in [project, tool, &what] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    Some(hex(&h.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Whether `s` has the shape of a code (so `hookctl allow` can say "not a code" early).
#[must_use]
pub fn is_code(s: &str) -> bool {
    s.len() == CODE_LEN && s.bytes().all(|b| ALPHABET.contains(&b))
}

/// A call that was denied or asked about, waiting for `hookctl allow CODE`.
#[derive(Debug, Clone)]
pub struct Pending {
    /// [`key`] of the call.
    pub key: String,
    /// The project.
    pub project: String,
    /// The tool.
    pub tool: String,
    /// The command or path, redacted (for the record and listings).
    pub summary: String,
    /// The rules that decided.
    pub rules: Vec<String>,
    /// The session the call was made in.
    pub session_id: Option<String>,
    /// When the code was last shown.
    pub last_ms: i64,
}

/// A live approval.
#[derive(Debug, Clone)]
pub struct Grant {
    /// The store's row id.
    pub id: i64,
    /// The code it was granted with.
    pub code: String,
    /// [`key`] of the call it approves.
    pub key: String,
    /// What it covers.
    pub scope: Scope,
    /// The session a [`Scope::Session`] grant is bound to.
    pub session_id: Option<String>,
    /// When it lapses, if it does.
    pub expires_ms: Option<i64>,
    /// Uses left ([`Scope::Once`]: 1).
    pub uses_left: Option<u64>,
    /// Who granted it.
    pub user: String,
}

impl Grant {
    fn live(&self, now_ms: i64) -> bool {
        self.expires_ms.is_none_or(|e| now_ms < e) && self.uses_left != Some(0)
    }
}

#[derive(Default)]
struct Inner {
    /// Code → the call it stands for.
    pending: HashMap<String, Pending>,
    /// Key → its code (a call denied again gets the same code).
    codes: HashMap<String, String>,
    grants: Vec<Grant>,
}

/// Codes waiting for approval and live grants, in memory (see the module docs).
#[derive(Default)]
pub struct Allowances {
    inner: Mutex<Inner>,
    /// Live grants: events skip the lock when there are none.
    live: AtomicUsize,
    /// Codes made so far (mixed into each new code).
    made: AtomicUsize,
}

impl Allowances {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The code for a call that was just denied or asked about: the one it already has (shown
    /// again, so kept longer), or a new one.
    pub fn code_for(&self, p: Pending) -> String {
        let mut inner = self.lock();
        let now = p.last_ms;
        if let Some(code) = inner.codes.get(&p.key).cloned()
            && let Some(old) = inner.pending.get_mut(&code)
            && now - old.last_ms < CODE_TTL_MS
        {
            old.last_ms = now;
            old.session_id.clone_from(&p.session_id);
            old.rules.clone_from(&p.rules);
            return code;
        }
        if inner.pending.len() >= MAX_PENDING {
            inner.pending.retain(|_, q| now - q.last_ms < CODE_TTL_MS);
            if inner.pending.len() >= MAX_PENDING
                && let Some(oldest) = inner
                    .pending
                    .iter()
                    .min_by_key(|(_, q)| q.last_ms)
                    .map(|(c, _)| c.clone())
            {
                inner.pending.remove(&oldest);
            }
            let Inner { pending, codes, .. } = &mut *inner;
            codes.retain(|_, c| pending.contains_key(c));
        }
        let code = loop {
            let c = self.new_code(&p.key);
            if !inner.pending.contains_key(&c) && !inner.grants.iter().any(|g| g.code == c) {
                break c;
            }
        };
        inner.codes.insert(p.key.clone(), code.clone());
        inner.pending.insert(code.clone(), p);
        code
    }

    fn new_code(&self, key: &str) -> String {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write(key.as_bytes());
        h.write_usize(self.made.fetch_add(1, Ordering::Relaxed));
        h.write_i64(crate::clock::now_ms());
        let mut n = h.finish();
        (0..CODE_LEN)
            .map(|_| {
                let c = ALPHABET[(n & 31) as usize] as char;
                n >>= 5;
                c
            })
            .collect()
    }

    /// The call waiting under `code`, if it is known and not expired.
    #[must_use]
    pub fn pending(&self, code: &str, now_ms: i64) -> Option<Pending> {
        self.lock()
            .pending
            .get(code)
            .filter(|p| now_ms - p.last_ms < CODE_TTL_MS)
            .cloned()
    }

    /// Adds a grant (recorded in the store already); its code is no longer waiting.
    pub fn add(&self, g: Grant) {
        let mut inner = self.lock();
        if let Some(p) = inner.pending.remove(&g.code) {
            inner.codes.remove(&p.key);
        }
        inner.grants.retain(|o| o.id != g.id);
        inner.grants.push(g);
        self.live.store(inner.grants.len(), Ordering::Relaxed);
    }

    /// Replaces every grant (at start, from the store).
    pub fn load(&self, grants: Vec<Grant>) {
        let mut inner = self.lock();
        inner.grants = grants;
        self.live.store(inner.grants.len(), Ordering::Relaxed);
    }

    /// Drops the grant with store id `id`; whether there was one.
    pub fn remove(&self, id: i64) -> bool {
        let mut inner = self.lock();
        let before = inner.grants.len();
        inner.grants.retain(|g| g.id != id);
        self.live.store(inner.grants.len(), Ordering::Relaxed);
        inner.grants.len() != before
    }

    /// Uses a live grant for the call `key` in `session`, if there is one: a once-only grant
    /// is used up. What was used (id, code, scope, who) comes back.
    pub fn take(&self, key: &str, session: Option<&str>, now_ms: i64) -> Option<Grant> {
        if self.live.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut inner = self.lock();
        inner.grants.retain(|g| g.live(now_ms));
        let found = inner.grants.iter_mut().find(|g| {
            g.key == key
                && (g.scope != Scope::Session
                    || (g.session_id.is_some() && g.session_id.as_deref() == session))
        });
        let used = found.map(|g| {
            if let Some(n) = g.uses_left.as_mut() {
                *n = n.saturating_sub(1);
            }
            g.clone()
        });
        inner.grants.retain(|g| g.live(now_ms));
        self.live.store(inner.grants.len(), Ordering::Relaxed);
        used
    }
}

/// Why an approval request from process `pid` is refused, if it is: a process started by
/// Claude Code (it, or one of its ancestors, has `CLAUDECODE=1` in its environment) must not
/// approve what hookd stopped — the model sees the code and could otherwise approve itself.
/// Linux reads `/proc`; elsewhere nothing is checked.
#[must_use]
pub fn refusal_for_peer(pid: Option<i32>) -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        let mut pid = pid?;
        for _ in 0..64 {
            if pid <= 1 {
                return None;
            }
            let dir = std::path::PathBuf::from(format!("/proc/{pid}"));
            if let Ok(env) = std::fs::read(dir.join("environ"))
                && env.split(|&b| b == 0).any(|v| v == b"CLAUDECODE=1")
            {
                let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
                return Some(format!(
                    "refused: this request comes from inside a Claude Code session (process {pid} {}has CLAUDECODE=1); approve from your own terminal, outside Claude Code",
                    if comm.trim().is_empty() {
                        String::new()
                    } else {
                        format!("`{}` ", comm.trim())
                    }
                ));
            }
            let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
                return None;
            };
            // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse().ok())?;
            pid = ppid;
        }
        None
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bash(cmd: &str, cwd: &str) -> HookEvent {
        let v = serde_json::json!({
            "session_id": "s", "cwd": cwd, "hook_event_name": "PreToolUse",
            "tool_name": "Bash", "tool_input": {"command": cmd, "description": "x"}
        });
        HookEvent::parse(v.to_string().as_bytes(), None).unwrap()
    }

    #[test]
    fn keys_name_exactly_one_call_in_one_project() {
        let k = |c: &str, p: &str| key(p, &bash(c, p)).unwrap();
        assert_eq!(k("rm -rf src", "/p"), k("  rm -rf src\n", "/p"));
        assert_ne!(k("rm -rf src", "/p"), k("rm -rf src2", "/p"));
        assert_ne!(k("rm -rf src", "/p"), k("rm -rf src", "/q"));
        assert_ne!(k("rm  -rf src", "/p"), k("rm -rf src", "/p"));
    }

    fn pending(key: &str, now: i64) -> Pending {
        Pending {
            key: key.into(),
            project: "/p".into(),
            tool: "Bash".into(),
            summary: "x".into(),
            rules: vec!["r".into()],
            session_id: Some("s".into()),
            last_ms: now,
        }
    }

    #[test]
    fn codes_are_stable_per_call_and_expire_unused() {
        let a = Allowances::default();
        let c1 = a.code_for(pending("k1", 0));
        assert!(is_code(&c1), "{c1}");
        assert_eq!(a.code_for(pending("k1", 10)), c1);
        assert_ne!(a.code_for(pending("k2", 10)), c1);
        assert!(a.pending(&c1, 10 + CODE_TTL_MS - 1).is_some());
        assert!(a.pending(&c1, 10 + CODE_TTL_MS).is_none());
    }

    #[test]
    fn grants_by_scope() {
        let a = Allowances::default();
        let g = |id, scope, session: Option<&str>, expires, uses| Grant {
            id,
            code: format!("c{id}"),
            key: format!("k{id}"),
            scope,
            session_id: session.map(str::to_string),
            expires_ms: expires,
            uses_left: uses,
            user: "me".into(),
        };
        a.add(g(1, Scope::Once, Some("s"), Some(100), Some(1)));
        a.add(g(2, Scope::Session, Some("s"), None, None));
        a.add(g(3, Scope::Window, None, Some(50), None));
        assert!(
            a.take("k1", Some("other"), 1).is_some(),
            "once: any session"
        );
        assert!(a.take("k1", Some("s"), 2).is_none(), "used up");
        assert!(a.take("k2", Some("t"), 3).is_none(), "another session");
        assert!(a.take("k2", None, 3).is_none());
        assert!(a.take("k2", Some("s"), 3).is_some());
        assert!(a.take("k2", Some("s"), 4).is_some());
        assert!(a.take("k3", None, 49).is_some());
        assert!(a.take("k3", None, 50).is_none(), "window over");
        assert!(a.remove(2));
        assert!(a.take("k2", Some("s"), 5).is_none(), "revoked");
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_process_under_claude_code_cannot_approve() {
        assert!(refusal_for_peer(Some(i32::try_from(std::process::id()).unwrap())).is_none());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env("CLAUDECODE", "1")
            .spawn()
            .unwrap();
        // Until `sleep` has exec'd and its new environment is mapped, /proc shows our fork's
        // environment or none.
        let comm = format!("/proc/{}/comm", child.id());
        let environ = format!("/proc/{}/environ", child.id());
        for _ in 0..500 {
            if std::fs::read_to_string(&comm).is_ok_and(|c| c.trim() == "sleep")
                && std::fs::read(&environ).is_ok_and(|e| !e.is_empty())
            {
                break;
            }
            #[allow(clippy::disallowed_methods)] // a bounded poll in a test
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let why = refusal_for_peer(Some(i32::try_from(child.id()).unwrap()));
        let _ = child.kill();
        let _ = child.wait();
        assert!(why.is_some_and(|w| w.contains("CLAUDECODE=1")));
    }
}
