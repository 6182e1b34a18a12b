//! Seeing through commands that run other commands, on the words of one simple command:
//! wrappers stripped (`sudo`, `env`, `nice`, `timeout`, `xargs`…), shells and their `-c`
//! bodies, `eval`, and the commands run by `find -exec`, `parallel`, `watch`, `su -c`, `ssh`.
//!
//! Pure functions of the cooked words: [`resolve`] says where the real command starts and what
//! the parser should analyse next ([`Follow`]).

use super::Context;

/// What the command at [`Plan::start`] runs, for the parser to analyse.
pub(super) enum Follow {
    Nothing,
    /// A shell reading its commands on stdin: heredocs and here-strings are shell bodies.
    Stdin,
    /// Shell code in a string (`bash -c BODY`, `eval ARGS`, `su -c`, `watch 'cmd'`).
    Body(String, Context),
    /// Several strings of shell code (`parallel ::: 'cmd1' 'cmd2'`).
    Bodies(Vec<String>, Context),
    /// Commands given as words (`find -exec CMD ARGS \;`).
    Exec(Vec<Vec<String>>),
}

/// The result of [`resolve`].
pub(super) struct Plan {
    /// Index of the real command's name in the words.
    pub start: usize,
    /// Wrapper names, outermost first.
    pub wrappers: Vec<String>,
    /// `VAR=value` words given to `env` or `sudo`.
    pub(crate) assigns: Vec<String>,
    /// Wrappers that run the command as a separate process (`xargs`, `watch -x`).
    pub(crate) exec_levels: usize,
    pub follow: Follow,
    /// Stopped early at the depth limit.
    pub truncated: bool,
}

/// `/usr/bin/rm` → `rm`.
pub(super) fn basename(word: &str) -> &str {
    match word.rfind('/') {
        Some(k) if k + 1 < word.len() => &word[k + 1..],
        _ => word,
    }
}

/// Option syntax of one wrapper.
struct Opts {
    /// Short options taking an argument (attached or in the next word).
    arg: &'static [u8],
    /// Short options whose argument, if any, is attached (`xargs -i{}`).
    optarg: &'static [u8],
    /// Long options (without `--`) taking the next word when written without `=`.
    long_arg: &'static [&'static str],
}

/// The options at `words[i..]`: where they end, and the short flags seen.
struct Scanned {
    next: usize,
    flags: u128,
}

impl Scanned {
    fn has(&self, c: u8) -> bool {
        c < 128 && self.flags & (1u128 << c) != 0
    }
}

fn scan_opts(words: &[String], mut i: usize, o: &Opts) -> Scanned {
    let mut flags = 0u128;
    while let Some(w) = words.get(i) {
        if w == "--" {
            i += 1;
            break;
        }
        if let Some(long) = w.strip_prefix("--") {
            i += if !long.contains('=') && o.long_arg.contains(&long) {
                2
            } else {
                1
            };
            continue;
        }
        let b = w.as_bytes();
        if b.len() < 2 || b[0] != b'-' {
            break;
        }
        i += 1;
        for (k, &c) in b.iter().enumerate().skip(1) {
            if c < 128 {
                flags |= 1u128 << c;
            }
            if o.optarg.contains(&c) {
                break;
            }
            if o.arg.contains(&c) {
                if k + 1 == b.len() {
                    i += 1;
                }
                break;
            }
        }
    }
    Scanned { next: i, flags }
}

/// One step of stripping.
enum Step {
    /// A wrapper: the command continues at this index.
    Wrap(usize),
    /// A wrapper that runs the command as a new process (`xargs`): continues at this index.
    Exec(usize),
    /// This is the command; it runs this.
    Final(Follow),
}

const SHELLS: &[&str] = &[
    "bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "rbash", "yash", "posh", "fish",
];

/// Strips the wrappers in `words` (which must not be empty) and says what the real command
/// runs. `room` is how many `exec_levels` the depth limit allows. `computed` holds a flag per
/// word (see `word::computed_name`), kept in step when `env -S` splits a word.
pub(super) fn resolve(words: &mut Vec<String>, computed: &mut Vec<bool>, room: usize) -> Plan {
    let mut plan = Plan {
        start: 0,
        wrappers: Vec::new(),
        assigns: Vec::new(),
        exec_levels: 0,
        follow: Follow::Nothing,
        truncated: false,
    };
    let mut i = 0;
    while let Some(w) = words.get(i) {
        let name = basename(w).to_owned();
        let step = step(&name, words, computed, i, &mut plan.assigns);
        match step {
            Step::Wrap(j) if j > i && j < words.len() => {
                plan.wrappers.push(name);
                i = j;
            }
            Step::Exec(j) if j > i && j < words.len() => {
                if plan.exec_levels >= room {
                    plan.truncated = true;
                    break;
                }
                plan.exec_levels += 1;
                plan.wrappers.push(name);
                i = j;
            }
            Step::Final(follow) => {
                plan.follow = follow;
                break;
            }
            // A wrapper with nothing to run is the command itself (`sudo -v`, `env`).
            _ => break,
        }
    }
    plan.start = i;
    plan
}

/// Skips `VAR=value` words (for `env` and `sudo`), moving them to `assigns`.
fn take_assigns(words: &[String], mut i: usize, assigns: &mut Vec<String>) -> usize {
    while let Some(w) = words.get(i) {
        match w.find('=') {
            Some(k) if k > 0 && !w.starts_with('-') => {
                assigns.push(w.clone());
                i += 1;
            }
            _ => break,
        }
    }
    i
}

fn step(
    name: &str,
    words: &mut Vec<String>,
    computed: &mut Vec<bool>,
    i: usize,
    assigns: &mut Vec<String>,
) -> Step {
    const NONE: Opts = Opts {
        arg: b"",
        optarg: b"",
        long_arg: &[],
    };
    let opts = |o: &Opts| scan_opts(words, i + 1, o);
    match name {
        "sudo" => {
            let s = opts(&Opts {
                arg: b"ugCDprtTUh",
                optarg: b"",
                long_arg: &[
                    "user",
                    "group",
                    "close-from",
                    "chdir",
                    "prompt",
                    "role",
                    "type",
                    "command-timeout",
                    "other-user",
                    "host",
                ],
            });
            if s.has(b'e') || s.has(b'l') || s.has(b'v') || s.has(b'K') {
                return Step::Final(Follow::Nothing);
            }
            let j = take_assigns(words, s.next, assigns);
            if j >= words.len() && (s.has(b's') || s.has(b'i')) {
                return Step::Final(Follow::Stdin);
            }
            Step::Wrap(j)
        }
        "doas" => {
            let s = opts(&Opts { arg: b"uC", ..NONE });
            if s.next >= words.len() && s.has(b's') {
                return Step::Final(Follow::Stdin);
            }
            Step::Wrap(s.next)
        }
        "env" => env(words, computed, i, assigns),
        "command" => {
            let s = opts(&NONE);
            if s.has(b'v') || s.has(b'V') {
                return Step::Final(Follow::Nothing);
            }
            Step::Wrap(s.next)
        }
        "builtin" | "nohup" | "busybox" | "eatmydata" => Step::Wrap(opts(&NONE).next),
        "exec" => Step::Wrap(opts(&Opts { arg: b"a", ..NONE }).next),
        "nice" => Step::Wrap(
            opts(&Opts {
                arg: b"n",
                optarg: b"",
                long_arg: &["adjustment"],
            })
            .next,
        ),
        "time" => Step::Wrap(
            opts(&Opts {
                arg: b"fo",
                optarg: b"",
                long_arg: &["format", "output"],
            })
            .next,
        ),
        "timeout" => {
            let s = opts(&Opts {
                arg: b"sk",
                optarg: b"",
                long_arg: &["signal", "kill-after"],
            });
            Step::Wrap(s.next + 1)
        }
        "stdbuf" => Step::Wrap(
            opts(&Opts {
                arg: b"ioe",
                optarg: b"",
                long_arg: &["input", "output", "error"],
            })
            .next,
        ),
        "ionice" => {
            let s = opts(&Opts {
                arg: b"cnpPu",
                optarg: b"",
                long_arg: &["class", "classdata", "pid", "pgid", "uid"],
            });
            if s.has(b'p') || s.has(b'P') || s.has(b'u') {
                return Step::Final(Follow::Nothing);
            }
            Step::Wrap(s.next)
        }
        "chrt" => {
            let s = opts(&Opts {
                arg: b"TPD",
                optarg: b"",
                long_arg: &["sched-runtime", "sched-period", "sched-deadline"],
            });
            if s.has(b'p') || s.has(b'm') {
                return Step::Final(Follow::Nothing);
            }
            Step::Wrap(s.next + 1)
        }
        "taskset" => {
            let s = opts(&NONE);
            if s.has(b'p') {
                return Step::Final(Follow::Nothing);
            }
            Step::Wrap(s.next + 1)
        }
        "setsid" | "unbuffer" => Step::Wrap(opts(&NONE).next),
        // Package runners run a package's command: `npx rimraf dist` is `rimraf dist`.
        "npx" | "bunx" | "pnpx" => {
            let s = opts(&Opts {
                arg: b"pc",
                optarg: b"",
                long_arg: &["package", "call", "node-options", "cache", "registry"],
            });
            if s.has(b'c') {
                return Step::Final(Follow::Nothing);
            }
            Step::Wrap(s.next)
        }
        // `pnpm dlx X`, `pnpm exec X`, `yarn dlx X`, `npm exec -- X`, `bun x X`.
        "pnpm" | "yarn" | "npm" | "bun"
            if words.get(i + 1).is_some_and(|w| {
                matches!(w.as_str(), "dlx" | "exec" | "x")
                    && (name != "bun" || w == "x")
                    && (name != "npm" || w != "dlx")
            }) =>
        {
            let mut j = i + 2;
            while words.get(j).is_some_and(|w| w.starts_with('-')) {
                j += 1;
                if words[j - 1] == "--" {
                    break;
                }
            }
            Step::Wrap(j)
        }
        "caffeinate" => Step::Wrap(opts(&Opts { arg: b"tw", ..NONE }).next),
        "chroot" => {
            let s = opts(&Opts {
                arg: b"",
                optarg: b"",
                long_arg: &["userspec", "groups"],
            });
            if s.next + 1 >= words.len() {
                return Step::Final(Follow::Stdin);
            }
            Step::Wrap(s.next + 1)
        }
        "xargs" => Step::Exec(
            opts(&Opts {
                arg: b"ILnPsdEa",
                optarg: b"ile",
                long_arg: &[
                    "arg-file",
                    "delimiter",
                    "max-args",
                    "max-procs",
                    "max-chars",
                    "process-slot-var",
                ],
            })
            .next,
        ),
        "flock" => flock(words, i),
        "watch" => {
            let s = opts(&Opts {
                arg: b"nq",
                optarg: b"d",
                long_arg: &["interval"],
            });
            let exec = s.has(b'x')
                || words[i + 1..s.next.min(words.len())]
                    .iter()
                    .any(|w| w == "--exec");
            if exec {
                return Step::Exec(s.next);
            }
            join_body(words, s.next, Context::Exec)
        }
        "parallel" => parallel(words, i),
        "find" => find(words, i),
        "su" | "script" => {
            let body = dash_c_arg(words, i + 1, words.len());
            Step::Final(body.map_or(Follow::Stdin, |b| Follow::Body(b, Context::ShellBody)))
        }
        "docker" | "podman" | "nerdctl" | "docker-compose" | "podman-compose" => {
            container_exec(words, i)
        }
        "kubectl" | "oc" => kubectl_exec(words, i),
        "ssh" => {
            let s = opts(&Opts {
                arg: b"BbcDEeFIiJLlmOopQRSWw",
                ..NONE
            });
            if s.next >= words.len() {
                return Step::Final(Follow::Nothing);
            }
            if s.next + 1 >= words.len() {
                return Step::Final(Follow::Stdin);
            }
            join_body(words, s.next + 1, Context::ShellBody)
        }
        "eval" => {
            let j = if words.get(i + 1).is_some_and(|w| w == "--") {
                i + 2
            } else {
                i + 1
            };
            join_body(words, j, Context::ShellBody)
        }
        "source" | "." => {
            let stdin = words.get(i + 1).is_some_and(|w| w == "/dev/stdin");
            Step::Final(if stdin {
                Follow::Stdin
            } else {
                Follow::Nothing
            })
        }
        _ if SHELLS.contains(&name) => shell(words, i),
        _ => Step::Final(Follow::Nothing),
    }
}

/// `docker exec [options] CONTAINER CMD…`, `docker compose [options] exec [options] SERVICE
/// CMD…` (podman, nerdctl, docker-compose alike): CMD runs, in the container.
fn container_exec(words: &[String], i: usize) -> Step {
    let mut k = i + 1;
    while let Some(w) = words.get(k) {
        match w.as_str() {
            "exec" => break,
            "compose" | "container" => k += 1,
            "-f"
            | "--file"
            | "-p"
            | "--project-name"
            | "--project-directory"
            | "--env-file"
            | "--profile"
            | "-c"
            | "--context"
            | "-H"
            | "--host" => k += 2,
            _ if w.starts_with('-') => k += 1,
            _ => return Step::Final(Follow::Nothing),
        }
    }
    if words.get(k).is_none_or(|w| w != "exec") {
        return Step::Final(Follow::Nothing);
    }
    let s = scan_opts(
        words,
        k + 1,
        &Opts {
            arg: b"euw",
            optarg: b"",
            long_arg: &["env", "env-file", "user", "workdir", "detach-keys", "index"],
        },
    );
    // The container (or service) name, then the command.
    Step::Exec(s.next + 1)
}

/// `kubectl [options] exec [options] POD -- CMD…` (and `oc`): CMD runs, in the pod.
fn kubectl_exec(words: &[String], i: usize) -> Step {
    let Some(e) = words[i + 1..].iter().position(|w| w == "exec") else {
        return Step::Final(Follow::Nothing);
    };
    let e = i + 1 + e;
    match words[e + 1..].iter().position(|w| w == "--") {
        Some(d) => Step::Exec(e + 1 + d + 1),
        None => Step::Final(Follow::Nothing),
    }
}

/// `words[j..]` joined by spaces as one body (`eval`, `watch`, `ssh host cmd…`).
fn join_body(words: &[String], j: usize, ctx: Context) -> Step {
    match words.get(j..) {
        Some(rest) if !rest.is_empty() => Step::Final(Follow::Body(rest.join(" "), ctx)),
        _ => Step::Final(Follow::Nothing),
    }
}

/// `bash [options] [-c BODY | SCRIPT | (stdin)]`.
fn shell(words: &[String], i: usize) -> Step {
    let mut j = i + 1;
    let (mut c, mut s) = (false, false);
    while let Some(w) = words.get(j) {
        if w == "--" || w == "-" {
            j += 1;
            break;
        }
        if w.starts_with("--") {
            j += if w == "--rcfile" || w == "--init-file" {
                2
            } else {
                1
            };
            continue;
        }
        let b = w.as_bytes();
        if b.len() < 2 || !(b[0] == b'-' || b[0] == b'+') {
            break;
        }
        j += 1;
        for &ch in &b[1..] {
            match ch {
                b'c' if b[0] == b'-' => c = true,
                b's' if b[0] == b'-' => s = true,
                b'o' | b'O' => j += 1,
                _ => {}
            }
        }
    }
    let follow = if c {
        words.get(j).map_or(Follow::Nothing, |body| {
            Follow::Body(body.clone(), Context::ShellBody)
        })
    } else if s || words.get(j).is_none_or(|w| w == "/dev/stdin") {
        Follow::Stdin
    } else {
        Follow::Nothing
    };
    Step::Final(follow)
}

/// `env [options] [VAR=value…] [command]`; `-S STRING` is split into words in place.
fn env(
    words: &mut Vec<String>,
    computed: &mut Vec<bool>,
    i: usize,
    assigns: &mut Vec<String>,
) -> Step {
    let mut j = i + 1;
    while let Some(w) = words.get(j) {
        if w == "--" {
            j += 1;
            break;
        }
        let split = if w == "-S" || w == "--split-string" {
            words.get(j + 1).map(|s| (2, s.clone()))
        } else if let Some(s) = w.strip_prefix("--split-string=") {
            Some((1, s.to_owned()))
        } else if w.len() > 2 && w.starts_with("-S") {
            Some((1, w[2..].to_owned()))
        } else {
            None
        };
        if let Some((n, s)) = split {
            let end = (j + n).min(words.len());
            let dynamic = computed.get(end - 1).copied().unwrap_or(false);
            let parts = split_string(&s);
            let flags = vec![dynamic; parts.len()];
            words.splice(j..end, parts);
            if end <= computed.len() {
                computed.splice(j..end, flags);
            }
            continue;
        }
        if w == "-" {
            j += 1;
        } else if let Some(long) = w.strip_prefix("--") {
            j += if !long.contains('=') && matches!(long, "unset" | "chdir") {
                2
            } else {
                1
            };
        } else if w.len() >= 2 && w.starts_with('-') {
            let b = w.as_bytes();
            j += 1;
            if let Some(k) = b.iter().position(|c| matches!(c, b'u' | b'C' | b'P'))
                && k + 1 == b.len()
            {
                j += 1;
            }
        } else {
            break;
        }
    }
    Step::Wrap(take_assigns(words, j, assigns))
}

/// `env -S` splitting: whitespace separates, with `'…'`, `"…"` and `\` quoting.
fn split_string(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                cur.extend(chars.by_ref().take_while(|&c| c != '\''));
            }
            '"' => {
                in_word = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => cur.extend(chars.next()),
                        _ => cur.push(c),
                    }
                }
            }
            '\\' => {
                in_word = true;
                cur.extend(chars.next());
            }
            _ => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    out
}

/// `flock [options] FILE CMD…`, `flock [options] FILE -c BODY`, `flock FD`.
fn flock(words: &[String], i: usize) -> Step {
    let s = scan_opts(
        words,
        i + 1,
        &Opts {
            arg: b"wEc",
            optarg: b"",
            long_arg: &["timeout", "wait", "conflict-exit-code", "command"],
        },
    );
    // `-c` among the options, or right after FILE.
    if let Some(body) = dash_c_arg(words, i + 1, (s.next + 2).min(words.len())) {
        return Step::Final(Follow::Body(body, Context::ShellBody));
    }
    Step::Wrap(s.next + 1)
}

/// The argument of `-c`/`--command` (or `-lc`…) in `words[from..to]` (`su`, `script`, `flock`).
fn dash_c_arg(words: &[String], from: usize, to: usize) -> Option<String> {
    let mut j = from;
    while let Some(w) = words.get(j).filter(|_| j < to) {
        if let Some(v) = w
            .strip_prefix("--command=")
            .or_else(|| w.strip_prefix("--session-command="))
        {
            return Some(v.to_owned());
        }
        let short = w.len() >= 2 && w.starts_with('-') && !w.starts_with("--") && w.ends_with('c');
        if short || w == "--command" || w == "--session-command" {
            return words.get(j + 1).cloned();
        }
        j += 1;
    }
    None
}

/// `parallel [options] CMD… ::: ARGS` or `parallel [options] ::: CMDS`.
fn parallel(words: &[String], i: usize) -> Step {
    let s = scan_opts(
        words,
        i + 1,
        &Opts {
            arg: b"jPnNLSadEIsC",
            optarg: b"",
            long_arg: &[
                "jobs",
                "max-args",
                "sshlogin",
                "arg-file",
                "delimiter",
                "colsep",
                "joblog",
                "results",
                "delay",
                "timeout",
                "tmpdir",
                "workdir",
                "env",
                "retries",
                "halt",
                "memfree",
                "load",
                "tagstring",
                "basefile",
                "sshloginfile",
                "max-replace-args",
                "max-lines",
                "max-chars",
                "eof",
                "replace",
            ],
        },
    );
    let rest = words.get(s.next..).unwrap_or_default();
    let sep = rest
        .iter()
        .position(|w| w.starts_with(":::"))
        .unwrap_or(rest.len());
    if sep > 0 {
        return Step::Final(Follow::Body(rest[..sep].join(" "), Context::Exec));
    }
    let cmds: Vec<String> = rest
        .iter()
        .skip(1)
        .take_while(|w| !w.starts_with(":::"))
        .cloned()
        .collect();
    if cmds.is_empty() {
        return Step::Final(Follow::Nothing);
    }
    Step::Final(Follow::Bodies(cmds, Context::Exec))
}

/// `find … -exec CMD … ;` (and `+`, `-execdir`, `-ok`, `-okdir`). In the commands, `{}`
/// stands for what find matches ([`find_matches`]): `find . -name x -exec rm -rf {} +` runs
/// `rm -rf ./**/x`.
fn find(words: &[String], i: usize) -> Step {
    let mut lists = Vec::new();
    let mut matches = None;
    let mut j = i + 1;
    while let Some(w) = words.get(j) {
        j += 1;
        if !matches!(w.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir") {
            continue;
        }
        let s = j;
        while let Some(w) = words.get(j) {
            if w == ";" || (w == "+" && j > s && words[j - 1] == "{}") {
                break;
            }
            j += 1;
        }
        if j > s {
            let matches = matches.get_or_insert_with(|| find_matches(&words[i + 1..]));
            let mut list = Vec::with_capacity(j - s);
            for w in &words[s..j] {
                if w == "{}" {
                    list.extend(matches.iter().cloned());
                } else if w.contains("{}") {
                    list.push(w.replace("{}", matches.first().map_or("", String::as_str)));
                } else {
                    list.push(w.clone());
                }
            }
            lists.push(list);
        }
        j += 1;
    }
    Step::Final(if lists.is_empty() {
        Follow::Nothing
    } else {
        Follow::Exec(lists)
    })
}

/// Tests of `find` that take an argument (so the argument is not read as a test).
const FIND_ARG_TESTS: &[&str] = &[
    "-type",
    "-xtype",
    "-user",
    "-group",
    "-uid",
    "-gid",
    "-perm",
    "-size",
    "-mtime",
    "-mmin",
    "-atime",
    "-amin",
    "-ctime",
    "-cmin",
    "-newer",
    "-anewer",
    "-cnewer",
    "-maxdepth",
    "-mindepth",
    "-fstype",
    "-links",
    "-inum",
    "-samefile",
    "-used",
    "-printf",
    "-fprint",
    "-fls",
    "-context",
    "-regextype",
    "-lname",
    "-ilname",
    "-newermt",
];

/// What `find ARGS` (the words after `find`) matches, as path patterns: `START/**/NAME` for
/// each start path and `-name`/`-iname` pattern, each `-path` pattern as written, and
/// `START/**` when the tests cannot be summed up by names (`-regex`, `!`/`-not`, none). A
/// `-name`/`-path` followed by `-prune` excludes and is left out.
#[must_use]
pub(crate) fn find_matches(args: &[String]) -> Vec<String> {
    let mut i = 0;
    // Leading options: -H -L -P -D debugopts -Olevel.
    while let Some(a) = args.get(i) {
        match a.as_str() {
            "-H" | "-L" | "-P" => i += 1,
            "-D" => i += 2,
            _ if a.starts_with("-O") && a.len() > 2 => i += 1,
            _ => break,
        }
    }
    let mut starts = Vec::new();
    while let Some(a) = args.get(i) {
        if a.starts_with('-') || matches!(a.as_str(), "(" | "!" | ")" | ",") {
            break;
        }
        let trimmed = a.trim_end_matches('/');
        starts.push(if trimmed.is_empty() { "/" } else { trimmed });
        i += 1;
    }
    if starts.is_empty() {
        starts.push(".");
    }
    let (mut names, mut paths, mut vague) = (Vec::new(), Vec::new(), false);
    while let Some(a) = args.get(i) {
        i += 1;
        // `-name X -prune -o …`: what X matches is skipped, not acted on. (`-name X -prune
        // -exec rm -rf {} +` acts on X itself.)
        let pruned = || {
            args.get(i + 1).is_some_and(|n| n == "-prune")
                && args
                    .get(i + 2)
                    .is_some_and(|n| matches!(n.as_str(), "-o" | "-or" | ","))
        };
        match a.as_str() {
            "-name" | "-iname" => {
                if let Some(n) = args.get(i) {
                    if !pruned() {
                        names.push(n.as_str());
                    }
                    i += 1;
                }
            }
            "-path" | "-ipath" | "-wholename" | "-iwholename" => {
                if let Some(p) = args.get(i) {
                    if !pruned() {
                        paths.push(p.as_str());
                    }
                    i += 1;
                }
            }
            "-regex" | "-iregex" => {
                vague = true;
                i += 1;
            }
            "!" | "-not" => vague = true,
            "-exec" | "-execdir" | "-ok" | "-okdir" => {
                while let Some(w) = args.get(i) {
                    i += 1;
                    if w == ";" || (w == "+" && args.get(i - 2).is_some_and(|p| p == "{}")) {
                        break;
                    }
                }
            }
            "-fprintf" => i += 2,
            _ if FIND_ARG_TESTS.contains(&a.as_str()) => i += 1,
            _ => {}
        }
    }
    let mut out = Vec::new();
    if vague || (names.is_empty() && paths.is_empty()) {
        for s in &starts {
            out.push(format!("{}/**", s.trim_end_matches('/')));
        }
        return out;
    }
    for s in &starts {
        for n in &names {
            out.push(format!("{}/**/{n}", s.trim_end_matches('/')));
        }
    }
    out.extend(paths.iter().map(|p| (*p).to_owned()));
    out
}
