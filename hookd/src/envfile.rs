//! The `env` action: a SessionStart rule loads the project's dotenv files into the file
//! Claude Code names in `CLAUDE_ENV_FILE`, as a hand-written SessionStart script would
//! (`export NAME='value'` lines, which Claude Code applies to every later Bash call).
//!
//! Values are secrets as far as hookd is concerned: they are written to that file only, never
//! logged, recorded or shown; what is recorded is the variables' names and their count.
//!
//! Safety: dotenv files are opened without following symlinks and must be regular files owned
//! by the user (a cloned repository cannot point `.env` at `~/.ssh/id_ed25519`); the env file
//! is opened for appending without following a symlink, and must be a regular file with one
//! link, owned by the user, in a directory owned by the user that no one else can write.
//! Names that are not shell identifiers are refused (their line is skipped and reported by
//! number, never by content); each value is single-quoted for the shell.
//!
//! Blocking file I/O: run it off the async workers.

use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::Path;

/// The largest dotenv file read, in bytes.
pub const MAX_DOTENV: u64 = 1 << 20;

/// What loading did: the names written (in order, each once), the files read, the lines
/// skipped (`file:line: why`, never a value).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    /// Variable names written.
    pub names: Vec<String>,
    /// Files that were read (relative names).
    pub files: Vec<String>,
    /// Problems (without values).
    pub problems: Vec<String>,
}

/// Whether `name` is a shell identifier (`[A-Za-z_][A-Za-z0-9_]*`).
#[must_use]
pub fn is_identifier(name: &str) -> bool {
    let mut b = name.bytes();
    b.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

/// `value` single-quoted for `sh`: `'` becomes `'\''`; everything else (newlines, `$`,
/// backticks, `\`) is literal inside single quotes.
#[must_use]
pub fn quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// Parses dotenv text: `NAME=value` lines, optionally prefixed by `export`; `#` comments and
/// blank lines; values unquoted (trimmed, ` #` starts a comment), single-quoted (literal), or
/// double-quoted (`\n`, `\t`, `\"`, `\\` escapes; may span lines). No `${VAR}` expansion: a
/// value is taken as written. Returns (name, value) pairs and problems (`line N: why`).
#[must_use]
pub fn parse(text: &str) -> (Vec<(String, String)>, Vec<String>) {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    let mut i = 0;
    while i < lines.len() {
        let n = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((name, rest)) = line.split_once('=') else {
            problems.push(format!("line {n}: not NAME=value"));
            continue;
        };
        let name = name.trim();
        if !is_identifier(name) {
            problems.push(format!("line {n}: the name is not a shell identifier"));
            continue;
        }
        let rest = rest.trim_start();
        let value = if let Some(body) = rest.strip_prefix('\'') {
            match body.find('\'') {
                Some(end) => body[..end].to_string(),
                None => {
                    problems.push(format!("line {n}: unterminated single quote"));
                    continue;
                }
            }
        } else if let Some(body) = rest.strip_prefix('"') {
            // Collect until an unescaped closing quote, across lines.
            let mut raw = body.to_string();
            let mut closed = None;
            loop {
                if let Some(end) = closing_quote(&raw) {
                    closed = Some(end);
                    break;
                }
                if i >= lines.len() {
                    break;
                }
                raw.push('\n');
                raw.push_str(lines[i]);
                i += 1;
            }
            let Some(end) = closed else {
                problems.push(format!("line {n}: unterminated double quote"));
                continue;
            };
            unescape(&raw[..end])
        } else {
            let v = match rest.find(" #") {
                Some(c) => &rest[..c],
                None => rest,
            };
            v.trim().to_string()
        };
        out.push((name.to_string(), value));
    }
    (out, problems)
}

fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (k, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(k),
            _ => {}
        }
    }
    None
}

fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(o @ ('"' | '\\' | '$' | '`')) => out.push(o),
            Some(o) => {
                out.push('\\');
                out.push(o);
            }
            None => out.push('\\'),
        }
    }
    out
}

/// The `export` lines for `vars` (each name once: the last value wins, in first-seen order).
#[must_use]
pub fn render(vars: &[(String, String)]) -> (String, Vec<String>) {
    let mut names: Vec<String> = Vec::new();
    for (n, _) in vars {
        if !names.contains(n) {
            names.push(n.clone());
        }
    }
    let mut text = String::new();
    for n in &names {
        let v = vars
            .iter()
            .rev()
            .find(|(k, _)| k == n)
            .map_or("", |(_, v)| v.as_str());
        text.push_str("export ");
        text.push_str(n);
        text.push('=');
        text.push_str(&quote(v));
        text.push('\n');
    }
    (text, names)
}

/// Opens a file of the user's without following a symlink: a regular file, owned by the
/// effective uid.
fn open_own(path: &Path, write: bool) -> Result<File, String> {
    let mut o = std::fs::OpenOptions::new();
    if write {
        o.append(true).create(true).mode(0o600);
    } else {
        o.read(true);
    }
    let f = o
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| {
            if e.raw_os_error() == Some(libc::ELOOP) {
                format!("{} is a symlink (not followed)", path.display())
            } else {
                format!("cannot open {}: {e}", path.display())
            }
        })?;
    let m = f
        .metadata()
        .map_err(|e| format!("cannot stat {}: {e}", path.display()))?;
    let me = crate::lifecycle::euid();
    if !m.file_type().is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    if m.uid() != me {
        return Err(format!(
            "{} is owned by uid {}, not you (uid {me})",
            path.display(),
            m.uid()
        ));
    }
    if write && m.nlink() != 1 {
        return Err(format!("{} has {} links", path.display(), m.nlink()));
    }
    Ok(f)
}

/// Loads `files` (relative to `project`, in order) and appends their variables to `env_file`.
///
/// # Errors
///
/// Why nothing was written (the env file is unsafe or cannot be written). Problems with
/// single dotenv files or lines are in [`Loaded::problems`]; missing files are skipped.
pub fn load(project: &Path, files: &[String], env_file: &Path) -> Result<Loaded, String> {
    if !env_file.is_absolute() {
        return Err(format!(
            "CLAUDE_ENV_FILE {} is not an absolute path",
            env_file.display()
        ));
    }
    let parent = env_file
        .parent()
        .ok_or_else(|| format!("CLAUDE_ENV_FILE {} has no directory", env_file.display()))?;
    let pm =
        std::fs::metadata(parent).map_err(|e| format!("cannot stat {}: {e}", parent.display()))?;
    let me = crate::lifecycle::euid();
    if pm.uid() != me || pm.mode() & 0o022 != 0 {
        return Err(format!(
            "{} must be a directory owned by you that no one else can write",
            parent.display()
        ));
    }
    let mut loaded = Loaded::default();
    let mut vars = Vec::new();
    for name in files {
        let path = project.join(name);
        match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            _ => {}
        }
        let mut f = match open_own(&path, false) {
            Ok(f) => f,
            Err(why) => {
                loaded.problems.push(why);
                continue;
            }
        };
        let mut bytes = Vec::new();
        if let Err(e) = (&mut f).take(MAX_DOTENV + 1).read_to_end(&mut bytes) {
            loaded.problems.push(format!("cannot read {name}: {e}"));
            continue;
        }
        if bytes.len() as u64 > MAX_DOTENV {
            loaded
                .problems
                .push(format!("{name} is larger than {MAX_DOTENV} bytes: skipped"));
            continue;
        }
        let Ok(text) = String::from_utf8(bytes) else {
            loaded
                .problems
                .push(format!("{name} is not UTF-8: skipped"));
            continue;
        };
        let (v, problems) = parse(&text);
        loaded
            .problems
            .extend(problems.into_iter().map(|p| format!("{name}: {p}")));
        vars.extend(v);
        loaded.files.push(name.clone());
    }
    let (text, names) = render(&vars);
    loaded.names = names;
    if text.is_empty() {
        return Ok(loaded);
    }
    let mut f = open_own(env_file, true)?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", env_file.display()))?;
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `sh` makes of the rendered lines: the value of each variable.
    fn through_sh(vars: &[(String, String)]) -> Vec<String> {
        let (text, names) = render(vars);
        let script = format!(
            "{text}{}",
            names
                .iter()
                .map(|n| format!("printf '%s\\0' \"${n}\"\n"))
                .collect::<String>()
        );
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut vals: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .split('\0')
            .map(str::to_string)
            .collect();
        vals.pop();
        vals
    }

    #[test]
    fn hostile_values_reach_the_shell_unchanged() {
        for f in ["q", "c", "b"] {
            let _ = std::fs::remove_file(format!("/tmp/hookd-pwned-{f}"));
        }
        let hostile = [
            "it's",
            "'; touch /tmp/hookd-pwned-q; '",
            "$(touch /tmp/hookd-pwned-c)",
            "`touch /tmp/hookd-pwned-b`",
            "line1\nline2\n",
            "back\\slash \"dq\" $HOME ${X:-y} !event",
            "",
            "\ttab; | & > < *",
        ];
        let vars: Vec<(String, String)> = hostile
            .iter()
            .enumerate()
            .map(|(i, v)| (format!("V{i}"), (*v).to_string()))
            .collect();
        assert_eq!(through_sh(&vars), hostile);
        for f in ["q", "c", "b"] {
            assert!(!Path::new(&format!("/tmp/hookd-pwned-{f}")).exists());
        }
    }

    #[test]
    fn dotenv_syntax() {
        let text = "# c\n\nA=plain value # comment\nexport B='single $X `y`'\nC=\"dq \\\"x\\\" \\n end\"\nD=\"multi\nline\"\n1BAD=x\nBAD-NAME=y\nnoequals\nE=\nA=override\nF='open\n";
        let (vars, problems) = parse(text);
        let get = |n: &str| {
            vars.iter()
                .rev()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("A"), Some("override"));
        assert_eq!(get("B"), Some("single $X `y`"));
        assert_eq!(get("C"), Some("dq \"x\" \n end"));
        assert_eq!(get("D"), Some("multi\nline"));
        assert_eq!(get("E"), Some(""));
        assert_eq!(get("1BAD"), None);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(
            problems
                .iter()
                .all(|p| !p.contains("open") && !p.contains('x'))
        );
        let (text, names) = render(&vars);
        assert_eq!(names, ["A", "B", "C", "D", "E"]);
        assert_eq!(text.matches("export ").count(), 5);
    }

    #[test]
    fn names_must_be_identifiers() {
        for ok in ["A", "_x", "PATH2", "a_b_C"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A B", "A;B", "$(x)", "é"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn files_are_loaded_safely() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("p");
        let out_dir = dir.path().join("out");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&out_dir).unwrap();
        std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::write(project.join(".env"), "A=1\nB=2\n").unwrap();
        std::fs::write(project.join(".env.local"), "B=3\n").unwrap();
        std::fs::write(dir.path().join("secret"), "KEY=stolen\n").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), project.join(".env.link")).unwrap();
        let env_file = out_dir.join("env.sh");
        let files = [".env", ".env.local", ".env.link", ".env.missing"].map(String::from);
        let l = load(&project, &files, &env_file).unwrap();
        assert_eq!(l.names, ["A", "B"]);
        assert_eq!(l.files, [".env", ".env.local"]);
        assert_eq!(l.problems.len(), 1, "{:?}", l.problems);
        assert!(l.problems[0].contains("symlink"));
        let text = std::fs::read_to_string(&env_file).unwrap();
        assert_eq!(text, "export A='1'\nexport B='3'\n");
        // The env file itself: never through a symlink.
        let link = out_dir.join("link.sh");
        std::os::unix::fs::symlink(dir.path().join("secret"), &link).unwrap();
        assert!(
            load(&project, &files, &link)
                .unwrap_err()
                .contains("symlink")
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("secret")).unwrap(),
            "KEY=stolen\n"
        );
        // A directory others can write is refused.
        std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(load(&project, &files, &env_file).is_err());
    }
}
