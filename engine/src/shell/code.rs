//! Interpreter code: the commands a python, node, perl, ruby, php or awk program runs.
//!
//! Not a parser: one bounded, forward pass over the program that skips strings and comments,
//! finds calls of the functions that run commands (`os.system`, `subprocess.run`,
//! `child_process.execSync`, perl and ruby `system`, backticks, `qx{…}`, `%x(…)`, php's
//! `shell_exec`, awk's `system()` and `print | "cmd"`), and reads their literal arguments.
//! A string argument is shell code (`os.system('rm -rf /')`); a list is an argv
//! (`subprocess.run(['rm', '-rf', '/'])`), turned into shell words; interpolations
//! (`f"{x}"`, `${x}`, `#{x}`) and non-literal parts become `$__`, an expansion the shell
//! analyser treats as unknown. An argument with no literal start (`os.system(cmd)`) is
//! reported as computed: hookd cannot know what it runs.
//!
//! Also here: which commands take code on stdin and how an interpreter's command line gives
//! its program (`-c`, `-e`, `-r`, awk's first operand).

/// An interpreter whose code hookd reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Lang {
    Python,
    Node,
    Perl,
    Ruby,
    Php,
    Awk,
    Lua,
    /// R (`Rscript -e`, `R -e`).
    R,
    /// Julia (`julia -e`): backticks are commands.
    Julia,
    /// AppleScript and JXA (`osascript -e`): `do shell script "…"`, `doShellScript(…)`.
    AppleScript,
    /// Tcl (`tclsh`, `expect`): `exec CMD ARGS`.
    Tcl,
}

/// What a program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Found {
    /// Shell code, with unknown parts as `$__`.
    Command(String),
    /// A call whose command is built at run time (the call, as written).
    Computed(String),
    /// A call that deletes these paths (each a literal, or `$__` when it is not one).
    Delete(Vec<String>),
}

impl Found {
    /// The shell command a finding stands for: the command itself, or `rm -rf -- PATHS` for a
    /// delete (so the rules on `rm` judge its paths).
    pub(super) fn shell(&self) -> Option<String> {
        match self {
            Self::Command(c) => Some(c.clone()),
            Self::Computed(_) => None,
            Self::Delete(paths) => {
                let mut s = String::from("rm -rf --");
                for p in paths {
                    s.push(' ');
                    if p == "$__" {
                        s.push_str("\"$__\"");
                    } else {
                        s.push('\'');
                        s.push_str(&p.replace('\'', "'\\''"));
                        s.push('\'');
                    }
                }
                Some(s)
            }
        }
    }
}

/// The paths the interpreter code of command `name ARGS` deletes (its inline programs, and
/// `stdin` when it reads its program there), each a literal or `$__`.
pub(super) fn deleted_paths(name: &str, args: &[String], stdin: Option<&str>) -> Vec<String> {
    let Some(lang) = lang_of(name) else {
        return Vec::new();
    };
    let mut programs: Vec<String> = inline(lang, args).into_iter().map(|(_, p)| p).collect();
    if let (Some(code), Stdin::Code(_)) = (stdin, stdin_of(name, args)) {
        programs.push(code.to_owned());
    }
    let mut out = Vec::new();
    for p in programs {
        for f in scan(lang, &p) {
            if let Found::Delete(paths) = f {
                out.extend(paths);
            }
        }
    }
    out
}

/// How a command reads its stdin.
pub(super) enum Stdin {
    /// As data.
    Data,
    /// As a program of this language.
    Code(Lang),
    /// As queries or code hookd only matches rules against (`psql`, `lua`).
    Query,
}

/// Commands whose stdin is program text or queries: interpreters and database clients. Their
/// stdin data is part of the text `command` rules are matched against.
const CODE_ON_STDIN: &[&str] = &[
    "python",
    "pypy",
    "node",
    "nodejs",
    "deno",
    "bun",
    "perl",
    "ruby",
    "php",
    "lua",
    "luajit",
    "Rscript",
    "R",
    "julia",
    "osascript",
    "tclsh",
    "wish",
    "expect",
    "psql",
    "mysql",
    "mariadb",
    "sqlite",
    "duckdb",
    "mongo",
    "mongosh",
    "redis-cli",
    "clickhouse-client",
    "sqlcmd",
    "cockroach",
];

/// The most commands reported for one program.
const FOUND_CAP: usize = 64;
/// The most arguments read for one call.
const ARGS_CAP: usize = 64;

/// `python3.12` → `python`, `sqlite3` → `sqlite`.
fn base_name(name: &str) -> &str {
    name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.')
}

/// Whether `name` reads program text or queries on stdin (which rules see as part of its
/// text).
#[must_use]
pub(crate) fn code_on_stdin(name: &str) -> bool {
    CODE_ON_STDIN.contains(&name) || CODE_ON_STDIN.contains(&base_name(name))
}

/// The language of an interpreter named `name`.
pub(super) fn lang_of(name: &str) -> Option<Lang> {
    Some(match base_name(name) {
        "python" | "pypy" => Lang::Python,
        "node" | "nodejs" | "bun" | "deno" => Lang::Node,
        "perl" => Lang::Perl,
        "ruby" => Lang::Ruby,
        "php" => Lang::Php,
        "awk" | "gawk" | "mawk" | "nawk" => Lang::Awk,
        "lua" | "luajit" => Lang::Lua,
        "Rscript" | "R" => Lang::R,
        "julia" => Lang::Julia,
        "osascript" => Lang::AppleScript,
        "tclsh" | "wish" | "expect" => Lang::Tcl,
        _ => return None,
    })
}

/// How the command `name ARGS` reads its stdin.
pub(super) fn stdin_of(name: &str, args: &[String]) -> Stdin {
    match lang_of(name) {
        Some(lang) if invocation(lang, name, args).stdin_code => Stdin::Code(lang),
        Some(_) => Stdin::Data,
        None if code_on_stdin(name) => Stdin::Query,
        None => Stdin::Data,
    }
}

/// The programs given on the command line (`-c CODE`, `-e CODE`…, awk's program), each with
/// the index of its word in `args` when it is a whole word (not `-cCODE`).
pub(super) fn inline(lang: Lang, args: &[String]) -> Vec<(Option<usize>, String)> {
    invocation(lang, "", args).programs
}

/// What an interpreter's command line says about its program.
struct Invocation {
    /// Programs given inline (with their word's index in the arguments, when whole).
    programs: Vec<(Option<usize>, String)>,
    /// The program is read from stdin (no inline program, no script, or `-`).
    stdin_code: bool,
}

fn invocation(lang: Lang, name: &str, args: &[String]) -> Invocation {
    let mut programs = Vec::new();
    let mut i = 0;
    let mut script = false;
    // Options whose argument is attached or in the next word, and options that give code.
    let (code_opts, arg_opts): (&[u8], &[u8]) = match lang {
        Lang::Python => (b"c", b"WX"),
        Lang::Perl => (b"eE", b"IMmxFCdD0li"),
        Lang::Ruby => (b"e", b"rICEFKTWx0li"),
        Lang::Php => (b"rBRE", b"dcfz"),
        Lang::Lua => (b"e", b"l"),
        Lang::R => (b"e", b"f"),
        Lang::Julia => (b"eE", b"LJpCtOg"),
        Lang::AppleScript => (b"e", b"ls"),
        Lang::Tcl => (b"c", b""),
        Lang::Node | Lang::Awk => (b"", b""),
    };
    if lang == Lang::Node && base_name(name) == "deno" {
        // `deno eval [options] CODE`; other subcommands run files.
        let eval = args.first().is_some_and(|a| a == "eval");
        let code = args
            .iter()
            .enumerate()
            .skip(1)
            .find(|(_, a)| !a.starts_with('-'));
        return Invocation {
            programs: code
                .filter(|_| eval)
                .map(|(k, a)| (Some(k), a.clone()))
                .into_iter()
                .collect(),
            stdin_code: false,
        };
    }
    while let Some(a) = args.get(i) {
        i += 1;
        if a == "-" {
            return Invocation {
                programs,
                stdin_code: true,
            };
        }
        if a == "--" {
            // The program (awk) or the script follows.
            if lang == Lang::Awk {
                programs.extend(args.get(i).map(|p| (Some(i), p.clone())));
            }
            script = args.get(i).is_some();
            break;
        }
        if !a.starts_with('-') {
            script = true;
            break;
        }
        if lang == Lang::Node || lang == Lang::Awk {
            let (eval, with_arg): (&[&str], &[&str]) = if lang == Lang::Node {
                (
                    &["-e", "--eval", "-p", "--print", "-pe"],
                    &[
                        "-r",
                        "--require",
                        "--import",
                        "--input-type",
                        "-C",
                        "--conditions",
                        "--loader",
                    ],
                )
            } else {
                (
                    &["-e", "--source"],
                    &["-F", "-v", "--field-separator", "--assign"],
                )
            };
            if eval.contains(&a.as_str()) {
                programs.extend(args.get(i).map(|p| (Some(i), p.clone())));
                i += 1;
            } else if let Some(code) = a
                .strip_prefix("--eval=")
                .or_else(|| a.strip_prefix("--print="))
                .or_else(|| a.strip_prefix("--source="))
            {
                programs.push((None, code.to_owned()));
            } else if lang == Lang::Awk && (a == "-f" || a.starts_with("--file")) {
                return Invocation {
                    programs,
                    stdin_code: false,
                };
            } else if with_arg.contains(&a.as_str()) {
                i += 1;
            } else if lang == Lang::Awk && a.len() > 2 && a.starts_with("-f") {
                return Invocation {
                    programs,
                    stdin_code: false,
                };
            }
            continue;
        }
        if a.starts_with("--") {
            continue;
        }
        let bytes = a.as_bytes();
        let mut k = 1;
        while let Some(&c) = bytes.get(k) {
            k += 1;
            let rest = &a[k..];
            if matches!(lang, Lang::Perl | Lang::Ruby) && matches!(c, b'l' | b'0') {
                // Optional octal digits: `-l`, `-0777`; the cluster goes on (`-lne`).
                while bytes.get(k).is_some_and(u8::is_ascii_digit) {
                    k += 1;
                }
                continue;
            }
            if code_opts.contains(&c) {
                if rest.is_empty() {
                    programs.extend(args.get(i).map(|p| (Some(i), p.clone())));
                    i += 1;
                } else {
                    programs.push((None, rest.to_owned()));
                }
                break;
            }
            if lang == Lang::Python && c == b'm' {
                // A module runs; stdin is its data.
                return Invocation {
                    programs,
                    stdin_code: false,
                };
            }
            if lang == Lang::Php && c == b'f' {
                return Invocation {
                    programs,
                    stdin_code: false,
                };
            }
            if arg_opts.contains(&c) {
                let next_word = rest.is_empty() && c != b'i';
                if next_word {
                    i += 1;
                }
                break;
            }
        }
    }
    if lang == Lang::Awk && programs.is_empty() {
        // The first operand is the program.
        let k = i.saturating_sub(usize::from(script));
        if let Some(p) = args.get(k) {
            programs.push((Some(k), p.clone()));
        }
        return Invocation {
            programs,
            stdin_code: false,
        };
    }
    let stdin_code = programs.is_empty() && !script && lang != Lang::Awk;
    Invocation {
        programs,
        stdin_code,
    }
}

/// How a function's arguments give the command it runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The first argument: shell code (a string) or an argv (a list).
    Shell,
    /// The first argument is the program, the second a list of its arguments.
    Argv,
    /// Every argument is a word of the command (one string alone is shell code).
    Words,
    /// Skip this many arguments; the next is an argv list.
    VecAfter(usize),
    /// Skip this many arguments; the rest are the argv.
    ListAfter(usize),
}

const PYTHON: &[(&str, Form)] = &[
    ("os.system", Form::Shell),
    ("os.popen", Form::Shell),
    ("subprocess.run", Form::Shell),
    ("subprocess.call", Form::Shell),
    ("subprocess.check_call", Form::Shell),
    ("subprocess.check_output", Form::Shell),
    ("subprocess.Popen", Form::Shell),
    ("subprocess.getoutput", Form::Shell),
    ("subprocess.getstatusoutput", Form::Shell),
    ("commands.getoutput", Form::Shell),
    ("commands.getstatusoutput", Form::Shell),
    ("pty.spawn", Form::Shell),
    ("asyncio.create_subprocess_shell", Form::Shell),
    ("asyncio.create_subprocess_exec", Form::Words),
    ("os.execv", Form::VecAfter(1)),
    ("os.execve", Form::VecAfter(1)),
    ("os.execvp", Form::VecAfter(1)),
    ("os.execvpe", Form::VecAfter(1)),
    ("os.execl", Form::ListAfter(1)),
    ("os.execle", Form::ListAfter(1)),
    ("os.execlp", Form::ListAfter(1)),
    ("os.execlpe", Form::ListAfter(1)),
    ("os.spawnv", Form::VecAfter(2)),
    ("os.spawnve", Form::VecAfter(2)),
    ("os.spawnvp", Form::VecAfter(2)),
    ("os.spawnvpe", Form::VecAfter(2)),
    ("os.spawnl", Form::ListAfter(2)),
    ("os.spawnle", Form::ListAfter(2)),
    ("os.spawnlp", Form::ListAfter(2)),
    ("os.spawnlpe", Form::ListAfter(2)),
];

const NODE: &[(&str, Form)] = &[
    ("exec", Form::Shell),
    ("execSync", Form::Shell),
    ("spawn", Form::Argv),
    ("spawnSync", Form::Argv),
    ("execFile", Form::Argv),
    ("execFileSync", Form::Argv),
    ("Bun.spawn", Form::Shell),
    ("Bun.spawnSync", Form::Shell),
    ("Deno.Command", Form::Argv),
];

const PERL: &[(&str, Form)] = &[
    ("system", Form::Words),
    ("exec", Form::Words),
    ("CORE::system", Form::Words),
    ("CORE::exec", Form::Words),
    ("readpipe", Form::Shell),
];

const RUBY: &[(&str, Form)] = &[
    ("system", Form::Words),
    ("exec", Form::Words),
    ("spawn", Form::Words),
    ("Kernel.system", Form::Words),
    ("Kernel.exec", Form::Words),
    ("Kernel.spawn", Form::Words),
    ("Process.spawn", Form::Words),
    ("Process.exec", Form::Words),
    ("IO.popen", Form::Words),
    ("Open3.capture2", Form::Words),
    ("Open3.capture2e", Form::Words),
    ("Open3.capture3", Form::Words),
    ("Open3.popen2", Form::Words),
    ("Open3.popen2e", Form::Words),
    ("Open3.popen3", Form::Words),
];

const PHP: &[(&str, Form)] = &[
    ("system", Form::Shell),
    ("exec", Form::Shell),
    ("shell_exec", Form::Shell),
    ("passthru", Form::Shell),
    ("popen", Form::Shell),
    ("proc_open", Form::Shell),
    ("pcntl_exec", Form::Argv),
];

const AWK: &[(&str, Form)] = &[("system", Form::Shell)];

const LUA: &[(&str, Form)] = &[("os.execute", Form::Shell), ("io.popen", Form::Shell)];

const R: &[(&str, Form)] = &[
    ("system", Form::Shell),
    ("shell", Form::Shell),
    ("pipe", Form::Shell),
    ("system2", Form::Argv),
    ("processx::run", Form::Argv),
];

const JULIA: &[(&str, Form)] = &[];

const APPLESCRIPT: &[(&str, Form)] = &[("doShellScript", Form::Shell)];

const TCL: &[(&str, Form)] = &[];

/// Functions that delete files or trees, by language: a call is reported as the `rm -rf` of
/// its path arguments, so the same rules judge it as a shell delete (a build output passes,
/// sources ask, home and system directories are denied). A path that is not a literal is
/// `"$__"`, which no rule takes for a build output.
const DELETES: &[(Lang, &str)] = &[
    (Lang::Python, "shutil.rmtree"),
    (Lang::Python, "os.remove"),
    (Lang::Python, "os.unlink"),
    (Lang::Python, "os.rmdir"),
    (Lang::Python, "os.removedirs"),
    (Lang::Node, "rmSync"),
    (Lang::Node, "rmdirSync"),
    (Lang::Node, "unlinkSync"),
    (Lang::Node, "fs.rm"),
    (Lang::Node, "fs.rmdir"),
    (Lang::Node, "fs.unlink"),
    (Lang::Node, "promises.rm"),
    (Lang::Node, "promises.rmdir"),
    (Lang::Node, "promises.unlink"),
    (Lang::Node, "fsPromises.rm"),
    (Lang::Node, "fsPromises.rmdir"),
    (Lang::Node, "fsPromises.unlink"),
    (Lang::Node, "rimraf"),
    (Lang::Node, "rimrafSync"),
    (Lang::Node, "fse.remove"),
    (Lang::Node, "fse.removeSync"),
    (Lang::Node, "Deno.remove"),
    (Lang::Node, "Deno.removeSync"),
    (Lang::Perl, "rmtree"),
    (Lang::Perl, "remove_tree"),
    (Lang::Perl, "File::Path::rmtree"),
    (Lang::Perl, "File::Path::remove_tree"),
    (Lang::Perl, "unlink"),
    (Lang::Ruby, "FileUtils.rm_rf"),
    (Lang::Ruby, "FileUtils.rm_r"),
    (Lang::Ruby, "FileUtils.rm"),
    (Lang::Ruby, "FileUtils.rm_f"),
    (Lang::Ruby, "FileUtils.remove_dir"),
    (Lang::Ruby, "FileUtils.remove_entry"),
    (Lang::Ruby, "FileUtils.rmtree"),
    (Lang::Ruby, "File.delete"),
    (Lang::Ruby, "File.unlink"),
    (Lang::Php, "unlink"),
    (Lang::Php, "rmdir"),
    (Lang::Lua, "os.remove"),
    (Lang::R, "unlink"),
    (Lang::R, "file.remove"),
    (Lang::Julia, "rm"),
];

/// Functions that run a string as code of the same language (`exec("…")`, `eval "…"`): a
/// literal argument is scanned like the program itself.
const EVALS: &[(Lang, &str)] = &[
    (Lang::Python, "exec"),
    (Lang::Python, "eval"),
    (Lang::Node, "eval"),
    (Lang::Perl, "eval"),
    (Lang::Ruby, "eval"),
    (Lang::Php, "eval"),
    (Lang::Lua, "load"),
    (Lang::Lua, "loadstring"),
];

/// How deep `exec("exec(\"…\")")` is followed.
const EVAL_DEPTH: u8 = 4;

/// Finds the commands `src`, a program in `lang`, runs.
pub(super) fn scan(lang: Lang, src: &str) -> Vec<Found> {
    scan_at(lang, src, 0)
}

fn scan_at(lang: Lang, src: &str, depth: u8) -> Vec<Found> {
    let mut s = Scanner {
        depth,
        src: src.as_bytes(),
        pos: 0,
        lang,
        found: Vec::new(),
        aliases: Vec::new(),
        node_shell: lang == Lang::Node
            && ["child_process", "Bun.", "Deno.", "$`"]
                .iter()
                .any(|k| src.contains(k)),
    };
    if lang == Lang::Python {
        s.aliases = python_aliases(src);
    }
    s.run();
    s.found
}

/// Names bound by `import subprocess as sp` (`sp` → `subprocess`) and
/// `from subprocess import run as r` (`r` → `subprocess.run`), for the modules that run
/// commands.
fn python_aliases(src: &str) -> Vec<(String, String)> {
    const MODULES: &[&str] = &["os", "subprocess", "pty", "commands", "asyncio", "shutil"];
    let mut out = Vec::new();
    for line in src.lines().take(10_000) {
        let line = line.trim();
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || c == ',' || c == '(' || c == ')' || c == ';')
            .filter(|w| !w.is_empty())
            .collect();
        match words.as_slice() {
            ["import", rest @ ..] => {
                let mut k = 0;
                while let Some(m) = rest.get(k) {
                    if rest.get(k + 1) == Some(&"as")
                        && let Some(alias) = rest.get(k + 2)
                    {
                        if MODULES.contains(m) {
                            out.push(((*alias).to_owned(), (*m).to_owned()));
                        }
                        k += 3;
                    } else {
                        k += 1;
                    }
                }
            }
            ["from", m, "import", rest @ ..] if MODULES.contains(m) => {
                let mut k = 0;
                while let Some(f) = rest.get(k) {
                    let (alias, step) = if rest.get(k + 1) == Some(&"as") {
                        (rest.get(k + 2).copied().unwrap_or(f), 3)
                    } else {
                        (*f, 1)
                    };
                    out.push((alias.to_owned(), format!("{m}.{f}")));
                    k += step;
                }
            }
            _ => {}
        }
        if out.len() >= 32 {
            break;
        }
    }
    out
}

/// One part of an argument: literal text, or anything else (a variable, a call…).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Lit(String),
    Other,
}

/// One argument of a call.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arg {
    /// A string (or a concatenation): its parts.
    Str(Vec<Part>),
    /// A list literal.
    List(Vec<Arg>),
}

impl Arg {
    /// Whether the argument starts with literal text (its command is known).
    fn known_start(&self) -> bool {
        match self {
            Self::Str(parts) => matches!(parts.first(), Some(Part::Lit(_))),
            Self::List(items) => items.first().is_some_and(Self::is_literal),
        }
    }

    fn is_literal(&self) -> bool {
        matches!(self, Self::Str(p) if !p.is_empty() && p.iter().all(|p| matches!(p, Part::Lit(_))))
    }

    /// The argument as shell code: a string's text (unknown parts as `$__`), a list as words.
    fn shell_text(&self) -> String {
        match self {
            Self::Str(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        Part::Lit(t) => s.push_str(t),
                        Part::Other => s.push_str("$__"),
                    }
                }
                s
            }
            Self::List(items) => items.iter().map(Self::word).collect::<Vec<_>>().join(" "),
        }
    }

    /// The argument as one shell word: quoted literal text, else `"$__"`.
    fn word(&self) -> String {
        match self {
            Self::Str(parts) if self.is_literal() => {
                let mut s = String::from("'");
                for p in parts {
                    if let Part::Lit(t) = p {
                        s.push_str(&t.replace('\'', "'\\''"));
                    }
                }
                s.push('\'');
                s
            }
            _ => "\"$__\"".to_owned(),
        }
    }
}

struct Scanner<'a> {
    /// How many `exec("…")` levels this program is inside.
    depth: u8,
    src: &'a [u8],
    pos: usize,
    lang: Lang,
    found: Vec<Found>,
    /// Python import aliases (see [`python_aliases`]).
    aliases: Vec<(String, String)>,
    /// The node program uses something that runs commands (else `exec(` is a regex method).
    node_shell: bool,
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$'
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn at(&self, k: usize) -> Option<u8> {
        self.src.get(self.pos + k).copied()
    }

    fn push(&mut self, f: Found) {
        if self.found.len() < FOUND_CAP {
            self.found.push(f);
        }
    }

    fn run(&mut self) {
        while let Some(b) = self.peek() {
            if self.found.len() >= FOUND_CAP {
                return;
            }
            if self.comment() {
                continue;
            }
            match b {
                b'\'' | b'"' => {
                    let lit = self.string(b);
                    if self.lang == Lang::Awk {
                        self.awk_after_string(&lit);
                    }
                }
                b'`' => match self.lang {
                    Lang::Perl | Lang::Ruby | Lang::Php | Lang::Julia => {
                        let text = self.string(b'`');
                        self.push(Found::Command(text.shell_text()));
                    }
                    Lang::Node => {
                        self.string(b'`');
                    }
                    _ => self.pos += 1,
                },
                b'|' if self.lang == Lang::Awk => {
                    self.pos += 1;
                    if self.peek() == Some(b'|') {
                        self.pos += 1;
                        continue;
                    }
                    self.skip_space();
                    if self.peek() == Some(b'"') {
                        let cmd = self.string(b'"');
                        self.awk_pipe(&cmd);
                    }
                }
                b'%' if self.lang == Lang::Ruby && self.at(1) == Some(b'x') => {
                    self.pos += 2;
                    if let Some(text) = self.delimited() {
                        self.push(Found::Command(text));
                    }
                }
                _ if is_ident(b) => self.identifier(),
                _ => self.pos += 1,
            }
        }
    }

    /// Skips a comment at `pos`, if one starts there.
    fn comment(&mut self) -> bool {
        let (b, next) = (self.peek(), self.at(1));
        let hash = matches!(
            self.lang,
            Lang::Python | Lang::Perl | Lang::Ruby | Lang::Php | Lang::Awk
        );
        let hash = hash
            || matches!(
                self.lang,
                Lang::R | Lang::Julia | Lang::AppleScript | Lang::Tcl
            );
        if matches!(self.lang, Lang::Lua | Lang::AppleScript)
            && b == Some(b'-')
            && next == Some(b'-')
        {
            self.skip_line();
            return true;
        }
        let slashes = matches!(self.lang, Lang::Node | Lang::Php);
        let prev = self.pos.checked_sub(1).and_then(|p| self.src.get(p));
        if b == Some(b'#') && hash && prev != Some(&b'$') {
            self.skip_line();
            return true;
        }
        if slashes && b == Some(b'/') && next == Some(b'/') {
            self.skip_line();
            return true;
        }
        if slashes && b == Some(b'/') && next == Some(b'*') {
            let rest = &self.src[self.pos + 2..];
            self.pos += 2 + rest
                .windows(2)
                .position(|w| w == b"*/")
                .map_or(rest.len(), |n| n + 2);
            return true;
        }
        false
    }

    fn skip_line(&mut self) {
        let rest = &self.src[self.pos..];
        self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    /// An identifier chain (`os.system`, `child_process.execSync`, `Open3.capture2`), then,
    /// if it names a function that runs commands and a call follows, its command.
    fn identifier(&mut self) {
        let start = self.pos;
        while let Some(b) = self.peek() {
            let dot = (b == b'.' || b == b':')
                && self
                    .at(1)
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_' || c == b':');
            if is_ident(b) || dot {
                self.pos += 1;
            } else {
                break;
            }
        }
        let mut name = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
        if self.lang == Lang::Python
            && matches!(name.as_str(), "__import__" | "importlib.import_module")
        {
            // `__import__('os').system(…)` is `os.system(…)`.
            let Some(module) = self.imported_module() else {
                return;
            };
            name = module;
        }
        // A string prefix (`f"…"`, `r'…'`) is part of the string.
        if self.lang == Lang::Python
            && name.len() <= 2
            && name.bytes().all(|c| b"rRbBuUfF".contains(&c))
            && matches!(self.peek(), Some(b'\'' | b'"'))
        {
            let q = self.src[start + name.len()];
            self.string_with(q, name.contains(['f', 'F']));
            return;
        }
        // A method on another value (`x.exec(…)`) is not ours, except in node, where
        // `require('child_process').execSync(…)` is.
        let after_dot = start > 0 && self.src[start - 1] == b'.';
        if self.lang == Lang::Perl {
            match name.as_str() {
                "qx" => {
                    if let Some(text) = self.delimited() {
                        self.push(Found::Command(text));
                    }
                    return;
                }
                "q" | "qq" | "qw" | "m" | "qr" => {
                    self.delimited();
                    return;
                }
                _ => {}
            }
        }
        if self.lang == Lang::AppleScript && name == "do" {
            // `do shell script "…"`.
            let rest = &self.src[self.pos..];
            let words: Vec<&[u8]> = rest
                .split(u8::is_ascii_whitespace)
                .filter(|w| !w.is_empty())
                .take(2)
                .collect();
            if words == [b"shell".as_slice(), b"script".as_slice()] {
                let at = rest
                    .windows(6)
                    .position(|w| w == b"script")
                    .map_or(rest.len(), |k| k + 6);
                self.pos += at;
                let args = self.args(None);
                self.command_of(Form::Shell, &args, "do shell script".to_owned());
            }
            return;
        }
        if self.lang == Lang::Tcl && matches!(name.as_str(), "exec" | "spawn") && !after_dot {
            // `exec CMD ARGS` up to the end of the command: Tcl words read as shell words.
            let rest = &self.src[self.pos..];
            let end = rest
                .iter()
                .position(|&b| matches!(b, b'\n' | b';' | b']'))
                .unwrap_or(rest.len());
            let text = String::from_utf8_lossy(&rest[..end]).trim().to_owned();
            self.pos += end;
            if text.starts_with('$') || text.starts_with('[') {
                self.push(Found::Computed(format!("exec {text}")));
            } else if !text.is_empty() {
                self.push(Found::Command(text));
            }
            return;
        }
        if self.lang == Lang::Ruby && name == "__END__" {
            self.pos = self.src.len();
            return;
        }
        if self.delete_or_eval(&name, after_dot) {
            return;
        }
        let Some(form) = self.form_of(&name, after_dot) else {
            return;
        };
        let save = self.pos;
        let bare = matches!(self.lang, Lang::Perl | Lang::Ruby);
        while self.peek().is_some_and(|b| b == b' ' || b == b'\t') {
            self.pos += 1;
        }
        let args = match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                self.args(Some(b')'))
            }
            Some(b'\'' | b'"' | b'[' | b'`') if bare => self.args(None),
            _ => {
                self.pos = save;
                return;
            }
        };
        let call = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
        self.command_of(form, &args, call);
    }

    /// After `__import__`: `('mod')` and the attribute chain that follows (`.system`), as
    /// `mod.system`; `None` (nothing consumed past the call) for anything else.
    fn imported_module(&mut self) -> Option<String> {
        let save = self.pos;
        let mut module = None;
        if self.peek() == Some(b'(') {
            self.pos += 1;
            self.skip_space();
            if let Some(q @ (b'\'' | b'"')) = self.peek()
                && let Arg::Str(parts) = self.string(q)
                && let [Part::Lit(m)] = parts.as_slice()
            {
                self.skip_space();
                if self.peek() == Some(b')') && self.at(1) == Some(b'.') {
                    self.pos += 2;
                    let from = self.pos;
                    while self.peek().is_some_and(|b| {
                        is_ident(b) || (b == b'.' && self.at(1).is_some_and(is_ident))
                    }) {
                        self.pos += 1;
                    }
                    let attr = String::from_utf8_lossy(&self.src[from..self.pos]);
                    if !attr.is_empty() {
                        module = Some(format!("{m}.{attr}"));
                    }
                }
            }
        }
        if module.is_none() {
            self.pos = save;
        }
        module
    }

    /// A call of a function that deletes files (reported as `rm -rf -- PATHS`) or that runs a
    /// string as code (scanned); true when `name` was one and its call was read.
    fn delete_or_eval(&mut self, name: &str, after_dot: bool) -> bool {
        // Python import aliases: `from shutil import rmtree` makes `rmtree` `shutil.rmtree`.
        let aliased;
        let name = if self.lang == Lang::Python && !after_dot {
            let (head, rest) = name.split_once('.').unwrap_or((name, ""));
            match self.aliases.iter().find(|(a, _)| a == head) {
                Some((_, full)) if rest.is_empty() => full.as_str(),
                Some((_, full)) => {
                    aliased = format!("{full}.{rest}");
                    aliased.as_str()
                }
                None => name,
            }
        } else {
            name
        };
        let tail = |n: &str| n.rsplit_once('.').map_or(n, |(_, t)| t).to_owned();
        let delete = DELETES.iter().any(|(l, f)| {
            *l == self.lang
                && (*f == name
                    || (self.lang == Lang::Node
                        && after_dot
                        && !f.contains('.')
                        && *f == tail(name))
                    || (self.lang == Lang::Node && name.ends_with(&format!(".{f}"))))
        });
        let eval = !after_dot && EVALS.iter().any(|(l, f)| *l == self.lang && *f == name);
        if !delete && !eval {
            return false;
        }
        let save = self.pos;
        while self.peek().is_some_and(|b| b == b' ' || b == b'\t') {
            self.pos += 1;
        }
        let bare = matches!(self.lang, Lang::Perl | Lang::Ruby);
        let args = match self.peek() {
            Some(b'(') => {
                self.pos += 1;
                self.args(Some(b')'))
            }
            // Perl and ruby calls without parentheses: `unlink glob("~/*")`,
            // `FileUtils.rm_r Dir.home`.
            Some(b)
                if bare
                    && self.pos > save
                    && (is_ident(b) || matches!(b, b'\'' | b'"' | b'[' | b'@' | b'%')) =>
            {
                self.args(None)
            }
            _ => {
                self.pos = save;
                return false;
            }
        };
        if eval {
            if let Some(code) = args.first().filter(|a| a.is_literal())
                && self.depth < EVAL_DEPTH
            {
                for f in scan_at(self.lang, &code.shell_text(), self.depth + 1) {
                    self.push(f);
                }
            }
            return true;
        }
        let all = matches!(self.lang, Lang::Perl | Lang::Ruby);
        let path = |a: &Arg| match a {
            Arg::Str(parts) if a.is_literal() => parts
                .iter()
                .map(|p| match p {
                    Part::Lit(t) => t.as_str(),
                    Part::Other => "",
                })
                .collect(),
            _ => "$__".to_owned(),
        };
        let mut paths = Vec::new();
        for a in args.iter().take(if all { ARGS_CAP } else { 1 }) {
            match a {
                Arg::List(items) => paths.extend(items.iter().map(path)),
                _ => paths.push(path(a)),
            }
        }
        if paths.is_empty() {
            paths.push("$__".to_owned());
        }
        self.push(Found::Delete(paths));
        true
    }

    /// The form of a function that runs commands, if `name` is one.
    fn form_of(&self, name: &str, after_dot: bool) -> Option<Form> {
        let table = match self.lang {
            Lang::Python => PYTHON,
            Lang::Node => NODE,
            Lang::Perl => PERL,
            Lang::Ruby => RUBY,
            Lang::Php => PHP,
            Lang::Awk => AWK,
            Lang::Lua => LUA,
            Lang::R => R,
            Lang::Julia => JULIA,
            Lang::AppleScript => APPLESCRIPT,
            Lang::Tcl => TCL,
        };
        let lookup = |n: &str| table.iter().find(|(f, _)| *f == n).map(|(_, form)| *form);
        match self.lang {
            Lang::Python => {
                if after_dot {
                    return None;
                }
                if let Some(f) = lookup(name) {
                    return Some(f);
                }
                let (head, rest) = name.split_once('.').unwrap_or((name, ""));
                let alias = self.aliases.iter().find(|(a, _)| a == head)?;
                let full = if rest.is_empty() {
                    alias.1.clone()
                } else {
                    format!("{}.{rest}", alias.1)
                };
                lookup(&full)
            }
            Lang::Node => {
                if !self.node_shell {
                    return None;
                }
                lookup(name).or_else(|| lookup(name.rsplit('.').next().unwrap_or(name)))
            }
            Lang::AppleScript => lookup(name.rsplit('.').next().unwrap_or(name)),
            _ if after_dot => None,
            _ => lookup(name),
        }
    }

    /// Reports the command of a call of `form` with `args` (`call` as written).
    fn command_of(&mut self, form: Form, args: &[Arg], call: String) {
        let words = |items: &[Arg]| -> Option<String> {
            let first = items.first()?;
            if !first.is_literal() {
                return None;
            }
            Some(items.iter().map(Arg::word).collect::<Vec<_>>().join(" "))
        };
        let list_items = |a: Option<&Arg>| match a {
            Some(Arg::List(items)) => Some(items.clone()),
            _ => None,
        };
        let text = match form {
            Form::Shell => args
                .first()
                .filter(|a| a.known_start())
                .map(Arg::shell_text),
            Form::Argv => {
                let mut items: Vec<Arg> = args.first().cloned().into_iter().collect();
                items.extend(list_items(args.get(1)).unwrap_or_default());
                words(&items)
            }
            Form::Words => {
                // Ruby: an environment hash first (`system({"A" => "1"}, "cmd")`).
                let args = match args.first() {
                    Some(Arg::Str(p)) if p == &[Part::Other] && args.len() > 1 => &args[1..],
                    _ => args,
                };
                match args {
                    [one] => Some(one).filter(|a| a.known_start()).map(Arg::shell_text),
                    _ => words(args),
                }
            }
            Form::VecAfter(n) => list_items(args.get(n)).and_then(|items| words(&items)),
            Form::ListAfter(n) => args.get(n..).and_then(words),
        };
        self.push(match text {
            Some(t) if !t.trim().is_empty() => Found::Command(t),
            _ => Found::Computed(call),
        });
    }

    /// Arguments up to `close` (or, without one, to the end of the statement).
    fn args(&mut self, close: Option<u8>) -> Vec<Arg> {
        let mut out = Vec::new();
        loop {
            let (arg, end) = self.arg(close);
            if let Some(a) = arg
                && out.len() < ARGS_CAP
            {
                out.push(a);
            }
            if end {
                return out;
            }
        }
    }

    /// One argument; `true` when the list ended after it.
    fn arg(&mut self, close: Option<u8>) -> (Option<Arg>, bool) {
        let mut parts: Vec<Part> = Vec::new();
        let mut list = None;
        loop {
            if self.comment() {
                continue;
            }
            let Some(b) = self.peek() else {
                return (finish(parts, list), true);
            };
            match b {
                b',' => {
                    self.pos += 1;
                    return (finish(parts, list), false);
                }
                _ if Some(b) == close => {
                    self.pos += 1;
                    return (finish(parts, list), true);
                }
                b';' | b'\n' | b'}' | b')' if close.is_none() || b != b'\n' => {
                    if close.is_none() {
                        return (finish(parts, list), true);
                    }
                    // An unbalanced closer: the call ends here.
                    self.pos += 1;
                    return (finish(parts, list), true);
                }
                b'\'' | b'"' | b'`' => {
                    if b == b'`' && self.lang != Lang::Node {
                        // A command's output as an argument: unknown.
                        self.string(b);
                        parts.push(Part::Other);
                        continue;
                    }
                    let s = self.string(b);
                    if let Arg::Str(p) = s {
                        parts.extend(p);
                    }
                }
                b'[' => {
                    self.pos += 1;
                    let items = self.args(Some(b']'));
                    if parts.is_empty() && list.is_none() {
                        list = Some(items);
                    } else {
                        parts.push(Part::Other);
                    }
                }
                b'(' | b'{' => {
                    self.balanced(b);
                    parts.push(Part::Other);
                }
                b'+' | b'.' | b'%' | b'~' if !parts.is_empty() => {
                    // Concatenation (`"rm -rf " + path`, `"rm " . $dir`), or a method on the
                    // value so far (`"…".format(x)`), which is unknown.
                    self.pos += 1;
                    if b == b'.' && self.peek().is_some_and(|c| c.is_ascii_alphabetic()) {
                        parts.push(Part::Other);
                    }
                }
                _ if b.is_ascii_whitespace() => self.pos += 1,
                _ if is_ident(b) => {
                    let start = self.pos;
                    while self
                        .peek()
                        .is_some_and(|c| is_ident(c) || c == b'.' || c == b':')
                    {
                        self.pos += 1;
                    }
                    let word = &self.src[start..self.pos];
                    // Python string prefixes and keyword arguments (`shell=True` stays
                    // `Other` in its own argument; `args=[…]` names the first).
                    if self.lang == Lang::Python
                        && word.len() <= 2
                        && word.iter().all(|c| b"rRbBuUfF".contains(c))
                        && matches!(self.peek(), Some(b'\'' | b'"'))
                    {
                        let q = self.peek().unwrap_or(b'"');
                        if let Arg::Str(p) =
                            self.string_with(q, word.contains(&b'f') || word.contains(&b'F'))
                        {
                            parts.extend(p);
                        }
                        continue;
                    }
                    if self.lang == Lang::R
                        && word == b"c"
                        && self.peek() == Some(b'(')
                        && parts.is_empty()
                        && list.is_none()
                    {
                        // R's vector `c("-rf", "x")` is a list.
                        self.pos += 1;
                        list = Some(self.args(Some(b')')));
                        continue;
                    }
                    if self.peek() == Some(b'=') && self.at(1) != Some(b'=') && parts.is_empty() {
                        self.pos += 1;
                        continue;
                    }
                    if !matches!(parts.last(), Some(Part::Other)) {
                        parts.push(Part::Other);
                    }
                }
                _ => {
                    self.pos += 1;
                    if !matches!(parts.last(), Some(Part::Other)) {
                        parts.push(Part::Other);
                    }
                }
            }
        }
    }

    /// Skips a balanced `( … )` or `{ … }` (strings inside respected).
    fn balanced(&mut self, open: u8) {
        let close = if open == b'(' { b')' } else { b'}' };
        let mut depth = 0usize;
        while let Some(b) = self.peek() {
            match b {
                b'\'' | b'"' | b'`' => {
                    self.string(b);
                    continue;
                }
                _ if b == open => depth += 1,
                _ if b == close => {
                    depth -= 1;
                    if depth == 0 {
                        self.pos += 1;
                        return;
                    }
                }
                _ => {}
            }
            self.pos += 1;
        }
    }

    /// A string literal at `pos` (opening quote `q`), with its interpolations.
    fn string(&mut self, q: u8) -> Arg {
        self.string_with(q, false)
    }

    /// A string literal; `fstring`: Python's `{…}` interpolates.
    fn string_with(&mut self, q: u8, fstring: bool) -> Arg {
        let triple = self.lang == Lang::Python && self.at(1) == Some(q) && self.at(2) == Some(q);
        self.pos += if triple { 3 } else { 1 };
        let interpolates = match self.lang {
            Lang::Python => fstring,
            Lang::Node => q == b'`',
            Lang::Ruby | Lang::Perl | Lang::Php => q != b'\'',
            Lang::Awk | Lang::Lua | Lang::R | Lang::AppleScript | Lang::Tcl => false,
            Lang::Julia => true,
        };
        let mut parts = Vec::new();
        let mut lit = Vec::new();
        let flush = |lit: &mut Vec<u8>, parts: &mut Vec<Part>| {
            if !lit.is_empty() {
                parts.push(Part::Lit(String::from_utf8_lossy(lit).into_owned()));
                lit.clear();
            }
        };
        while let Some(b) = self.peek() {
            if b == q && (!triple || (self.at(1) == Some(q) && self.at(2) == Some(q))) {
                self.pos += if triple { 3 } else { 1 };
                break;
            }
            match b {
                b'\\' => {
                    let e = self.at(1).unwrap_or(b'\\');
                    self.pos += 2;
                    let raw_quote = q == b'\'' && !matches!(self.lang, Lang::Python | Lang::Node);
                    if raw_quote && e != b'\'' && e != b'\\' {
                        lit.push(b'\\');
                        lit.push(e);
                        continue;
                    }
                    lit.push(match e {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'0' => 0,
                        _ => e,
                    });
                }
                b'{' if fstring && self.at(1) == Some(b'{') => {
                    lit.push(b'{');
                    self.pos += 2;
                }
                b'}' if fstring && self.at(1) == Some(b'}') => {
                    lit.push(b'}');
                    self.pos += 2;
                }
                b'{' if fstring => {
                    flush(&mut lit, &mut parts);
                    self.balanced(b'{');
                    parts.push(Part::Other);
                }
                b'$' if interpolates && self.lang == Lang::Node && self.at(1) == Some(b'{') => {
                    flush(&mut lit, &mut parts);
                    self.pos += 1;
                    self.balanced(b'{');
                    parts.push(Part::Other);
                }
                b'#' if interpolates && self.lang == Lang::Ruby && self.at(1) == Some(b'{') => {
                    flush(&mut lit, &mut parts);
                    self.pos += 1;
                    self.balanced(b'{');
                    parts.push(Part::Other);
                }
                _ => {
                    // Perl and PHP `"$x"` stay as written: the shell reads them as expansions.
                    lit.push(b);
                    self.pos += 1;
                }
            }
        }
        flush(&mut lit, &mut parts);
        if parts.is_empty() {
            parts.push(Part::Lit(String::new()));
        }
        Arg::Str(parts)
    }

    /// A string after a quote-like operator (`qx{…}`, `%x(…)`, `q/…/`) at `pos`.
    fn delimited(&mut self) -> Option<String> {
        let open = self.peek()?;
        if open.is_ascii_alphanumeric() || open.is_ascii_whitespace() {
            return None;
        }
        let close = match open {
            b'(' => b')',
            b'{' => b'}',
            b'[' => b']',
            b'<' => b'>',
            c => c,
        };
        self.pos += 1;
        let start = self.pos;
        let mut depth = 1usize;
        while let Some(b) = self.peek() {
            if b == b'\\' {
                self.pos += 2;
                continue;
            }
            if b == close {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            } else if b == open && open != close {
                depth += 1;
            }
            self.pos += 1;
        }
        let end = self.pos.min(self.src.len());
        self.pos = (self.pos + 1).min(self.src.len());
        let text = String::from_utf8_lossy(&self.src[start..end]);
        // Ruby `#{x}` interpolates: unknown.
        Some(replace_ruby_interpolation(&text))
    }

    /// Awk: `"cmd" | getline` runs `cmd`.
    fn awk_after_string(&mut self, lit: &Arg) {
        let save = self.pos;
        self.skip_space();
        if self.peek() == Some(b'|') && self.at(1) != Some(b'|') {
            self.pos += 1;
            self.skip_space();
            if self.src[self.pos..].starts_with(b"getline") {
                self.push(Found::Command(lit.shell_text()));
                return;
            }
        }
        self.pos = save;
    }

    /// Awk: `print … | "cmd"` runs `cmd` with the printed text on its stdin, which is code
    /// when `cmd` is a shell.
    fn awk_pipe(&mut self, cmd: &Arg) {
        let text = cmd.shell_text();
        let first = text.split_whitespace().next().unwrap_or("");
        let first = first.rsplit('/').next().unwrap_or(first);
        if matches!(first, "sh" | "bash" | "zsh" | "dash" | "ksh") {
            self.push(Found::Computed(format!("print … | \"{text}\"")));
        }
        self.push(Found::Command(text));
    }
}

fn finish(parts: Vec<Part>, list: Option<Vec<Arg>>) -> Option<Arg> {
    match list {
        Some(items) if parts.is_empty() => Some(Arg::List(items)),
        _ if parts.is_empty() => None,
        _ => Some(Arg::Str(parts)),
    }
}

fn replace_ruby_interpolation(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(k) = rest.find("#{") {
        out.push_str(&rest[..k]);
        out.push_str("$__");
        rest = match rest[k..].find('}') {
            Some(e) => &rest[k + e + 1..],
            None => "",
        };
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmds(lang: Lang, src: &str) -> Vec<Found> {
        scan(lang, src)
    }

    fn c(s: &str) -> Found {
        Found::Command(s.to_owned())
    }

    #[test]
    fn python_shell_outs() {
        use Lang::Python as P;
        assert_eq!(cmds(P, "import os; os.system('rm -rf /')"), [c("rm -rf /")]);
        assert_eq!(
            cmds(P, "import subprocess; subprocess.run(['rm', '-rf', '/'])"),
            [c("'rm' '-rf' '/'")]
        );
        assert_eq!(
            cmds(
                P,
                "import subprocess as sp\nsp.call(\"git push -f\", shell=True)"
            ),
            [c("git push -f")]
        );
        assert_eq!(
            cmds(P, "from subprocess import check_output as co\nco(['ls'])"),
            [c("'ls'")]
        );
        assert_eq!(cmds(P, "os.system(f\"rm -rf {d}\")"), [c("rm -rf $__")]);
        assert_eq!(cmds(P, "os.system('rm -rf ' + d)"), [c("rm -rf $__")]);
        assert!(matches!(
            cmds(P, "os.system(cmd)").as_slice(),
            [Found::Computed(_)]
        ));
        assert_eq!(
            cmds(P, "os.execvp('rm', ['rm', '-rf', '/'])"),
            [c("'rm' '-rf' '/'")]
        );
        // Data, comments and other methods are not calls.
        assert!(cmds(P, "print('os.system(\"rm -rf /\")')").is_empty());
        assert!(cmds(P, "# os.system('rm -rf /')\nx = 1").is_empty());
        assert!(cmds(P, "app.run(debug=True); asyncio.run(main())").is_empty());
        assert!(cmds(P, "'''\nos.system('x')\n'''").is_empty());
    }

    #[test]
    fn node_perl_ruby_php_awk_shell_outs() {
        assert_eq!(
            cmds(
                Lang::Node,
                "require('child_process').execSync('git reset --hard')"
            ),
            [c("git reset --hard")]
        );
        assert_eq!(
            cmds(
                Lang::Node,
                "const {spawnSync} = require('child_process'); spawnSync('rm', ['-rf', `/x`])"
            ),
            [c("'rm' '-rf' '/x'")]
        );
        assert_eq!(
            cmds(
                Lang::Node,
                "const cp = require('child_process'); cp.exec(`rm -rf ${d}`)"
            ),
            [c("rm -rf $__")]
        );
        assert!(cmds(Lang::Node, "/a/.exec(s); console.log(`x`)").is_empty());
        assert_eq!(
            cmds(Lang::Perl, "system('rm', '-rf', '/')"),
            [c("'rm' '-rf' '/'")]
        );
        assert_eq!(cmds(Lang::Perl, "my $x = `rm -rf /`;"), [c("rm -rf /")]);
        assert_eq!(
            cmds(Lang::Perl, "print qx{git push -f};"),
            [c("git push -f")]
        );
        assert_eq!(
            cmds(Lang::Perl, "system \"rm -rf $dir\";"),
            [c("rm -rf $dir")]
        );
        assert_eq!(cmds(Lang::Ruby, "system(\"rm -rf /\")"), [c("rm -rf /")]);
        assert_eq!(cmds(Lang::Ruby, "%x(rm -rf #{d})"), [c("rm -rf $__")]);
        assert_eq!(cmds(Lang::Php, "shell_exec('rm -rf /');"), [c("rm -rf /")]);
        assert_eq!(
            cmds(Lang::Awk, "BEGIN { system(\"rm -rf /\") }"),
            [c("rm -rf /")]
        );
        assert_eq!(
            cmds(Lang::Awk, "{ print $1 | \"sort -u\" }"),
            [c("sort -u")]
        );
        assert!(matches!(
            cmds(Lang::Awk, "{ print \"rm -rf \" $1 | \"sh\" }").as_slice(),
            [Found::Computed(_), Found::Command(_)]
        ));
        assert!(cmds(Lang::Awk, "{ print $1, \"system\" }").is_empty());
    }

    #[test]
    fn command_lines_give_programs_and_stdin() {
        let a = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let inline = |l: Lang, v: &[String]| -> Vec<String> {
            inline(l, v).into_iter().map(|(_, p)| p).collect()
        };
        assert_eq!(
            super::inline(Lang::Python, &a(&["-u", "-c", "x"])),
            [(Some(2), "x".to_owned())]
        );
        assert_eq!(
            super::inline(Lang::Python, &a(&["-cx"])),
            [(None, "x".to_owned())]
        );
        assert_eq!(inline(Lang::Python, &a(&["-c", "x"])), ["x"]);
        assert_eq!(inline(Lang::Python, &a(&["-Bc", "x"])), ["x"]);
        assert!(inline(Lang::Python, &a(&["script.py", "-c", "x"])).is_empty());
        assert_eq!(inline(Lang::Perl, &a(&["-lne", "print", "f"])), ["print"]);
        assert_eq!(
            inline(Lang::Perl, &a(&["-pi", "-e", "s/a/b/", "f"])),
            ["s/a/b/"]
        );
        assert_eq!(inline(Lang::Ruby, &a(&["-rjson", "-e", "p 1"])), ["p 1"]);
        assert_eq!(inline(Lang::Node, &a(&["-e", "x()"])), ["x()"]);
        assert_eq!(inline(Lang::Php, &a(&["-r", "x();"])), ["x();"]);
        assert_eq!(
            inline(Lang::Awk, &a(&["-F:", "{print $1}", "f"])),
            ["{print $1}"]
        );
        assert_eq!(
            inline(Lang::Awk, &a(&["-v", "x=1", "{print}"])),
            ["{print}"]
        );
        assert!(inline(Lang::Awk, &a(&["-f", "prog.awk", "f"])).is_empty());
        let code = |n: &str, v: &[&str]| matches!(stdin_of(n, &a(v)), Stdin::Code(_));
        assert!(code("python3", &[]));
        assert!(code("python3", &["-u", "-"]));
        assert!(!code("python3", &["-m", "json.tool"]));
        assert!(!code("python3", &["script.py"]));
        assert!(!code("python3", &["-c", "print(1)"]));
        assert!(code("node", &[]));
        assert!(!code("awk", &["{print}"]));
        assert!(matches!(stdin_of("psql", &[]), Stdin::Query));
    }
}
