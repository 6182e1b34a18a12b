//! The environment a `run` script gets: what Claude Code gives command hooks, from hookd's
//! own environment minus secret-looking variables, plus the rule's `env`.
//!
//! Pure: the caller passes hookd's environment in.

use std::ffi::OsString;

use crate::rules::RunSpec;

/// Words (between `_`) that mark a variable as secret anywhere in its name.
const SECRET_WORDS: &[&str] = &[
    "TOKEN",
    "TOKENS",
    "SECRET",
    "SECRETS",
    "PASSWORD",
    "PASSWD",
    "PASSPHRASE",
    "APIKEY",
    "CREDENTIAL",
    "CREDENTIALS",
    "CREDS",
    "COOKIE",
    "PRIVATE",
];
/// Words that mark a variable as secret when they end its name (`OPENAI_KEY`, `NPM_AUTH`).
const SECRET_LAST_WORDS: &[&str] = &["KEY", "AUTH", "AUTHORIZATION", "PASS", "PAT"];

/// Whether a variable name looks like it holds a secret (`GITHUB_TOKEN`,
/// `AWS_SECRET_ACCESS_KEY`, `ANTHROPIC_API_KEY`, `DB_PASSWORD`, `NPM_AUTH`). `SSH_AUTH_SOCK`,
/// `XAUTHORITY` and the like are not.
#[must_use]
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    let words: Vec<&str> = upper.split('_').filter(|w| !w.is_empty()).collect();
    words.iter().any(|w| SECRET_WORDS.contains(w))
        || words.last().is_some_and(|w| SECRET_LAST_WORDS.contains(w))
}

/// What hookd knows of the hook invocation that Claude Code would put in the environment.
#[derive(Debug, Clone, Default)]
pub struct HookVars<'a> {
    /// `CLAUDE_PROJECT_DIR`.
    pub project_dir: Option<&'a str>,
    /// `CLAUDE_CODE_SESSION_ID`.
    pub session_id: Option<&'a str>,
    /// The rule being run (`HOOKD_RULE`).
    pub rule: &'a str,
    /// The event name (`HOOKD_EVENT`).
    pub event: &'a str,
    /// The attempt number, from 1 (`HOOKD_RUN_ATTEMPT`).
    pub attempt: u32,
}

/// The whole environment for one run: `base` (hookd's environment) without secret-looking
/// names (unless listed in `pass_env`) and without variables that describe another Claude
/// Code session, then the hook variables, then the rule's `env`.
#[must_use]
pub fn build(
    spec: &RunSpec,
    base: &[(OsString, OsString)],
    vars: &HookVars<'_>,
) -> Vec<(OsString, OsString)> {
    let hook_names = [
        "CLAUDE_PROJECT_DIR",
        "CLAUDE_CODE_SESSION_ID",
        "CLAUDECODE",
        "HOOKD_RULE",
        "HOOKD_EVENT",
        "HOOKD_RUN_ATTEMPT",
    ];
    let mut env: Vec<(OsString, OsString)> = base
        .iter()
        .filter(|(k, _)| {
            let Some(name) = k.to_str() else {
                return false;
            };
            if spec.pass_env.iter().any(|p| p == name) {
                return true;
            }
            !looks_secret(name) && !hook_names.contains(&name)
        })
        .cloned()
        .collect();
    let mut set = |k: &str, v: &str| env.push((k.into(), v.into()));
    if let Some(p) = vars.project_dir {
        set("CLAUDE_PROJECT_DIR", p);
    }
    if let Some(s) = vars.session_id {
        set("CLAUDE_CODE_SESSION_ID", s);
    }
    set("CLAUDECODE", "1");
    set("HOOKD_RULE", vars.rule);
    set("HOOKD_EVENT", vars.event);
    set("HOOKD_RUN_ATTEMPT", &vars.attempt.to_string());
    for (k, v) in &spec.env {
        env.retain(|(name, _)| name != k.as_str());
        env.push((k.into(), expand(v, vars).into()));
    }
    env
}

/// Replaces `${CLAUDE_PROJECT_DIR}` in `s`, as Claude Code does in the `args` of exec-form
/// hooks.
#[must_use]
pub fn expand(s: &str, vars: &HookVars<'_>) -> String {
    if !s.contains("${CLAUDE_PROJECT_DIR}") {
        return s.to_string();
    }
    s.replace("${CLAUDE_PROJECT_DIR}", vars.project_dir.unwrap_or(""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{OnFailure, RunCommand, RunMode, StdoutUse};

    fn spec(env: &[(&str, &str)], pass: &[&str]) -> RunSpec {
        RunSpec {
            command: RunCommand::Shell("true".into()),
            mode: RunMode::Sync,
            timeout_ms: 1000,
            priority: 0,
            env: env
                .iter()
                .map(|(k, v)| ((*k).into(), (*v).into()))
                .collect(),
            pass_env: pass.iter().map(|s| (*s).into()).collect(),
            retries: 0,
            on_failure: OnFailure::Continue,
            stdout: StdoutUse::Context,
        }
    }

    #[test]
    fn secret_looking_names() {
        for s in [
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "AWS_SESSION_TOKEN",
            "ANTHROPIC_API_KEY",
            "OPENAI_KEY",
            "DB_PASSWORD",
            "NPM_AUTH",
            "GH_PAT",
            "CLAUDE_CODE_MESSAGING_TOKEN",
            "HOOKD_HTTP_TOKEN",
            "github_token",
        ] {
            assert!(looks_secret(s), "{s}");
        }
        for s in [
            "PATH",
            "HOME",
            "SSH_AUTH_SOCK",
            "XAUTHORITY",
            "LANG",
            "KEYBOARD_LAYOUT",
            "MONKEY",
            "DISPLAY",
        ] {
            assert!(!looks_secret(s), "{s}");
        }
    }

    #[test]
    fn environment_drops_secrets_adds_hook_vars_and_rule_env() {
        let base: Vec<(OsString, OsString)> = [
            ("PATH", "/bin"),
            ("GITHUB_TOKEN", "ghp_x"),
            ("NPM_TOKEN", "npm_x"),
            ("CLAUDE_PROJECT_DIR", "/other"),
            ("LANG", "C"),
        ]
        .iter()
        .map(|(k, v)| ((*k).into(), (*v).into()))
        .collect();
        let vars = HookVars {
            project_dir: Some("/p"),
            session_id: Some("s1"),
            rule: "r",
            event: "Stop",
            attempt: 1,
        };
        let env = build(
            &spec(
                &[("LANG", "en"), ("OUT", "${CLAUDE_PROJECT_DIR}/out")],
                &["NPM_TOKEN"],
            ),
            &base,
            &vars,
        );
        let get = |k: &str| {
            env.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.to_string_lossy().into_owned())
        };
        assert_eq!(get("PATH").as_deref(), Some("/bin"));
        assert_eq!(get("GITHUB_TOKEN"), None);
        assert_eq!(get("NPM_TOKEN").as_deref(), Some("npm_x"));
        assert_eq!(get("CLAUDE_PROJECT_DIR").as_deref(), Some("/p"));
        assert_eq!(get("CLAUDE_CODE_SESSION_ID").as_deref(), Some("s1"));
        assert_eq!(get("CLAUDECODE").as_deref(), Some("1"));
        assert_eq!(get("LANG").as_deref(), Some("en"));
        assert_eq!(get("OUT").as_deref(), Some("/p/out"));
        assert_eq!(
            env.iter()
                .filter(|(k, _)| k == "CLAUDE_PROJECT_DIR")
                .count(),
            1
        );
    }
}
