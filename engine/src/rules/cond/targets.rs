//! [`Target`]: a path a tool call touches, and how a Bash command's paths are found: the
//! arguments of file-touching commands (by command tables), redirections, uploads and cloud
//! copies, `find -delete`, and `cd` before a relative path.

use std::cell::OnceCell;
use std::path::{Path, PathBuf};

use super::paths::resolve;
use crate::shell::{self, SimpleCommand};

/// A path a tool call touches.
#[derive(Debug, Clone)]
pub struct Target {
    /// As written.
    pub raw: String,
    /// Absolute and lexically normalised (`~`, `$HOME`, `.` and `..` resolved).
    pub abs: PathBuf,
    /// The simple command it belongs to (an index into the analysis), for Bash.
    pub cmd: Option<usize>,
    /// It is written (created, changed, moved or deleted), not only read.
    pub write: bool,
    /// It is a redirection's file (`> out.log`, `2>>err`), not an argument of the command.
    pub redirect: bool,
    /// The write keeps what the file holds: an append (`>>`, `tee -a`), `touch`, `mkdir`.
    pub keeps: bool,
    /// Whether the write can destroy content (computed on first need).
    clobbers: OnceCell<bool>,
    /// `abs` with symlinks resolved (computed on first need, for `outside_project`).
    resolved: OnceCell<PathBuf>,
}

impl Target {
    pub(super) fn new(raw: String, abs: PathBuf, cmd: Option<usize>, write: bool) -> Self {
        Self {
            raw,
            abs,
            cmd,
            write,
            redirect: false,
            keeps: false,
            clobbers: OnceCell::new(),
            resolved: OnceCell::new(),
        }
    }

    /// Whether writing it can destroy content: it is written, not only appended to or
    /// touched, and something is there (a `stat`, on first need).
    pub(super) fn clobbers(&self) -> bool {
        *self.clobbers.get_or_init(|| {
            self.write && !self.keeps && std::fs::symlink_metadata(&self.abs).is_ok()
        })
    }

    /// `abs` with symlinks resolved.
    pub(super) fn resolved(&self) -> &Path {
        self.resolved.get_or_init(|| resolve(&self.abs))
    }
}

/// Most `cd` directories followed in one command.
pub(super) const CD_CAP: usize = 8;

/// The directory a literal `cd DIR` or `pushd DIR` changes to (not `cd -`, not computed).
pub(super) fn cd_target(c: &SimpleCommand) -> Option<&str> {
    if !matches!(c.name.as_str(), "cd" | "pushd") {
        return None;
    }
    let dir = c
        .args
        .iter()
        .find(|a| !a.starts_with('-') || a.len() == 1)?;
    let literal = !dir.contains(['$', '`']) && dir != "-";
    literal.then_some(dir.as_str())
}

/// Commands whose non-option arguments are all written (created, changed or deleted).
const WRITE_COMMANDS: &[&str] = &[
    "rm",
    "rmdir",
    "unlink",
    "touch",
    "mkdir",
    "tee",
    "truncate",
    "shred",
    "srm",
    "wipe",
    "rimraf",
    "del-cli",
    "trash-put",
];
/// Commands whose last operand is written and the others read (`mv` also removes its
/// sources, so they count as written).
const COPY_COMMANDS: &[&str] = &["cp", "mv", "ln", "install", "scp", "rsync"];
/// Commands whose non-option arguments are read.
const READ_COMMANDS: &[&str] = &[
    "cat",
    "less",
    "more",
    "head",
    "tail",
    "nano",
    "vi",
    "vim",
    "nvim",
    "emacs",
    "source",
    ".",
    "open",
    "xdg-open",
    "bat",
    "strings",
    "xxd",
    "od",
    "hexdump",
    "base64",
    "tar",
    "zip",
    "unzip",
    "7z",
    "7za",
    "gzip",
    "bzip2",
    "xz",
    "zstd",
    "lz4",
    "gpg",
    "gpg2",
    "age",
    "tac",
    "nl",
    "sort",
    "uniq",
    "diff",
    "cmp",
    "cut",
    "wc",
    "md5sum",
    "sha256sum",
    "sha1sum",
];
/// Commands whose first non-option argument is a pattern or script, the rest paths (read,
/// or written with `sed -i`).
const PATTERN_COMMANDS: &[&str] = &["grep", "egrep", "fgrep", "rg", "sed", "awk", "gawk", "jq"];
/// Commands taking an octal/symbolic mode or owner first, then paths they change.
const MODE_COMMANDS: &[&str] = &["chmod", "chown", "chgrp"];

/// Device files that are streams, never files whose content can be lost or leaked:
/// `/dev/null`, `/dev/zero`, the standard streams, `/dev/fd/N`, the terminal, the random
/// sources. Redirecting to or from them (`2>/dev/null`, `</dev/null`) or naming them
/// (`cp /dev/null log`) touches no file, so they are never targets. (Disks, `/dev/sd*`, and
/// bash's `/dev/tcp/…` are not in this list.)
pub(super) fn is_stream_device(p: &str) -> bool {
    let Some(dev) = p.strip_prefix("/dev/") else {
        return false;
    };
    matches!(
        dev,
        "null" | "zero" | "full" | "stdin" | "stdout" | "stderr" | "tty" | "random" | "urandom"
    ) || dev
        .strip_prefix("fd/")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The files `c`'s redirections open, each with whether it is written, and in `appends`
/// whether it is appended to (`>>`).
pub(super) fn redirect_paths(
    c: &SimpleCommand,
    out: &mut Vec<(String, bool)>,
    appends: &mut Vec<bool>,
) {
    for r in &c.redirects {
        let is_file = matches!(r.op.as_str(), ">" | ">>" | "<" | "&>" | "&>>" | ">|" | "<>")
            || (r.op.ends_with('>') && r.op.len() <= 3 && !r.op.starts_with('<'));
        if is_file && !r.target.starts_with('&') && !r.target.is_empty() {
            out.push((r.target.clone(), !r.op.ends_with('<')));
            appends.push(r.op.ends_with(">>"));
        }
    }
}

/// Whether the paths `c`'s arguments write keep what they hold: `touch`, `mkdir`,
/// `tee -a`.
pub(super) fn keeps_content(c: &SimpleCommand) -> bool {
    match c.name.as_str() {
        "touch" | "mkdir" => true,
        "tee" => c.args.iter().any(|a| {
            a == "--append" || (a.starts_with('-') && !a.starts_with("--") && a.contains('a'))
        }),
        _ => false,
    }
}

/// The paths `c`'s arguments name, each with whether it is written.
pub(super) fn bash_paths(c: &SimpleCommand, out: &mut Vec<(String, bool)>) {
    let name = c.name.as_str();
    match name {
        "dd" => {
            for a in &c.args {
                if let Some(p) = a.strip_prefix("of=") {
                    out.push((p.to_string(), true));
                } else if let Some(p) = a.strip_prefix("if=") {
                    out.push((p.to_string(), false));
                }
            }
            return;
        }
        "find" => {
            if find_deletes(&c.args) {
                out.extend(shell::find_matches(&c.args).into_iter().map(|p| (p, true)));
            }
            return;
        }
        "curl" | "wget" | "http" | "https" | "xh" | "xhs" => {
            upload_paths(name, &c.args, out);
            return;
        }
        _ if shell::code_on_stdin(name) => {
            // Interpreter code: the paths its delete calls name.
            out.extend(shell::code_deleted_paths(c).into_iter().map(|p| (p, true)));
            return;
        }
        "aws" | "gcloud" | "gsutil" | "rclone" | "azcopy" | "s3cmd" | "mc" | "az" | "gh"
        | "croc" | "wormhole" | "ffsend" => {
            cloud_copy_paths(name, &c.args, out);
            return;
        }
        "openssl" => {
            let mut it = c.args.iter();
            while let Some(a) = it.next() {
                if matches!(a.as_str(), "-in" | "-inkey" | "-key" | "-out" | "-keyout")
                    && let Some(p) = it.next()
                {
                    out.push((p.clone(), matches!(a.as_str(), "-out" | "-keyout")));
                }
            }
            return;
        }
        _ => {}
    }
    let pattern_first = PATTERN_COMMANDS.contains(&name);
    let known = pattern_first
        || MODE_COMMANDS.contains(&name)
        || WRITE_COMMANDS.contains(&name)
        || COPY_COMMANDS.contains(&name)
        || READ_COMMANDS.contains(&name);
    if !known {
        return;
    }
    // Short options whose argument follows (in the word or the next one): not paths.
    let with_arg = short_options_with_argument(name);
    let mut operands = Vec::new();
    let mut options_done = false;
    let mut in_place = false;
    // A pattern or script given by option (`grep -e PAT`, `sed -e SCRIPT`): operands are
    // all files.
    let mut pattern_given = false;
    let mut target_dir = None;
    let mut args = c.args.iter();
    while let Some(a) = args.next() {
        if !options_done && a == "--" {
            options_done = true;
            continue;
        }
        if options_done || !a.starts_with('-') || a.len() == 1 {
            operands.push(a.clone());
            continue;
        }
        if let Some(long) = a.strip_prefix("--") {
            in_place |= name == "sed" && long.starts_with("in-place");
            pattern_given |= pattern_first
                && ["expression", "regexp", "file"]
                    .iter()
                    .any(|k| long.starts_with(k));
            if let Some(dir) = long.strip_prefix("target-directory=") {
                target_dir = Some(dir.to_owned());
            } else if long == "target-directory" {
                target_dir = args.next().cloned();
            }
            continue;
        }
        for (k, ch) in a.char_indices().skip(1) {
            in_place |= name == "sed" && ch == 'i';
            if !with_arg.contains(ch) {
                continue;
            }
            pattern_given |= pattern_first && matches!(ch, 'e' | 'f');
            let value = if k + 1 < a.len() {
                Some(a[k + 1..].to_owned())
            } else {
                args.next().cloned()
            };
            if ch == 't' && COPY_COMMANDS.contains(&name) {
                target_dir = value;
            }
            break;
        }
    }
    let skip = usize::from((pattern_first && !pattern_given) || MODE_COMMANDS.contains(&name));
    let operands = operands.into_iter().skip(skip);
    if COPY_COMMANDS.contains(&name) {
        let ops: Vec<String> = operands.collect();
        let n = ops.len();
        for (k, p) in ops.into_iter().enumerate() {
            // `host:path` is on another machine.
            if !remote_path(&p) {
                let dest = target_dir.is_none() && k + 1 == n;
                out.push((p, dest || name == "mv"));
            }
        }
        out.extend(target_dir.filter(|d| !remote_path(d)).map(|d| (d, true)));
        return;
    }
    let write = WRITE_COMMANDS.contains(&name) || MODE_COMMANDS.contains(&name) || in_place;
    out.extend(operands.map(|p| (p, write)));
}

/// Short options of `name` that take an argument, so the argument is not a path operand.
fn short_options_with_argument(name: &str) -> &'static str {
    match name {
        "truncate" => "sr",
        "shred" => "ns",
        "touch" => "trd",
        "mkdir" => "m",
        "install" => "mogtS",
        "cp" | "mv" | "ln" => "tS",
        "scp" => "iPocFlSJ",
        "rsync" => "eBf",
        "head" | "tail" => "nc",
        "grep" | "egrep" | "fgrep" => "efmABCd",
        "rg" => "egtTmABCMj",
        "sed" => "ef",
        "awk" | "gawk" => "Fvf",
        "jq" => "",
        "sort" => "ktoS",
        "cut" => "dfbc",
        "gpg" | "gpg2" => "oruk",
        "age" => "rRio",
        "diff" => "UCxXI",
        "base64" => "w",
        "tar" => "fCTXbHKg",
        "zip" => "nxib",
        "split" => "lbna",
        _ => "",
    }
}

/// `[user@]host:path`: a path on another machine (scp, rsync).
fn remote_path(p: &str) -> bool {
    match p.find(':') {
        Some(k) => !p[..k].contains('/'),
        None => false,
    }
}

/// Whether `find ARGS` deletes what it finds (`-delete`, or `-exec rm …`).
fn find_deletes(args: &[String]) -> bool {
    args.iter().enumerate().any(|(k, a)| {
        a == "-delete"
            || (matches!(a.as_str(), "-exec" | "-execdir" | "-ok" | "-okdir")
                && args.get(k + 1).is_some_and(|c| {
                    matches!(
                        c.rsplit('/').next().unwrap_or(c),
                        "rm" | "rmdir" | "unlink" | "shred" | "srm"
                    )
                }))
    })
}

/// curl's short options that take an argument.
const CURL_ARG: &str = "AbcCdDeEFHKmoPQrtTuUwxXyYz";

/// Whether `p` names a place in cloud storage or on a remote (`s3://b/k`, `gs://b`,
/// `remote:path`), not a local path.
fn cloud_path(p: &str) -> bool {
    p.contains("://") || remote_path(p)
}

/// The local paths a cloud-storage, sync or sharing tool copies (`aws s3 cp`, `gsutil cp`,
/// `gcloud storage cp`, `rclone copy`, `azcopy copy`, `s3cmd put`, `mc cp`, `az storage … upload
/// -f FILE`, `gh gist create`, `gh release upload`, `croc send`, `wormhole send`): sources are read (uploaded), a local last operand after a remote source is
/// written (downloaded). Options' values may be counted as paths too; they only ever add
/// read targets.
fn cloud_copy_paths(name: &str, args: &[String], out: &mut Vec<(String, bool)>) {
    let copy_at = match name {
        "aws" => args
            .windows(2)
            .position(|w| w[0] == "s3" && matches!(w[1].as_str(), "cp" | "mv" | "sync"))
            .map(|k| k + 2),
        "gcloud" => args
            .windows(2)
            .position(|w| w[0] == "storage" && matches!(w[1].as_str(), "cp" | "mv" | "rsync"))
            .map(|k| k + 2),
        // Sharing tools: what they send is read.
        "gh" => (args.len() >= 2
            && matches!(
                (args[0].as_str(), args[1].as_str()),
                ("gist", "create" | "edit") | ("release", "upload" | "create")
            ))
        .then_some(2),
        "croc" | "wormhole" | "ffsend" => args
            .iter()
            .position(|a| matches!(a.as_str(), "send" | "upload"))
            .map(|k| k + 1),
        "gsutil" | "rclone" | "azcopy" | "s3cmd" | "mc" => args
            .iter()
            .position(|a| {
                matches!(
                    a.as_str(),
                    "cp" | "mv"
                        | "rsync"
                        | "copy"
                        | "copyto"
                        | "sync"
                        | "move"
                        | "moveto"
                        | "put"
                        | "mirror"
                        | "bisync"
                )
            })
            .map(|k| k + 1),
        "az" => {
            // `az storage blob upload -f FILE`, `upload-batch -s DIR`, `az storage file upload
            // --source FILE`.
            if !args.iter().any(|a| a.starts_with("upload")) {
                return;
            }
            let mut it = args.iter();
            while let Some(a) = it.next() {
                let (opt, v) = match a.split_once('=') {
                    Some((o, v)) => (o, Some(v.to_owned())),
                    None => (a.as_str(), None),
                };
                if matches!(opt, "-f" | "--file" | "-s" | "--source")
                    && let Some(v) = v.or_else(|| it.next().cloned())
                {
                    out.push((v, false));
                }
            }
            return;
        }
        _ => None,
    };
    let Some(at) = copy_at else { return };
    let ops: Vec<&String> = args[at.min(args.len())..]
        .iter()
        .filter(|a| !a.starts_with('-'))
        .collect();
    let remote_source = ops.len() > 1 && ops[..ops.len() - 1].iter().any(|p| cloud_path(p));
    for (k, p) in ops.iter().enumerate() {
        if !cloud_path(p) {
            let download = remote_source && k + 1 == ops.len();
            out.push(((*p).clone(), download));
        }
    }
}

/// Files `curl`, `wget` or `httpie` send (read): `-F name=@file`, `-d @file`,
/// `--data-binary @file`, `-T file`, `--post-file=file`, `field@file`.
fn upload_paths(name: &str, args: &[String], out: &mut Vec<(String, bool)>) {
    let mut it = args.iter().peekable();
    let at_file = |v: &str| -> Option<String> {
        let p = v.split_once('@').map(|(_, p)| p)?;
        let p = p.split(';').next().unwrap_or(p);
        (!p.is_empty() && p != "-").then(|| p.to_owned())
    };
    while let Some(a) = it.next() {
        match name {
            "curl" => {
                let short;
                let (opt, attached) = if a.starts_with("--") {
                    match a.split_once('=') {
                        Some((o, v)) => (o, Some(v.to_owned())),
                        None => (a.as_str(), None),
                    }
                } else if a.len() > 2 && a.starts_with('-') {
                    // A cluster of short flags (`-sSLT file`, `-sd@.env`): the first option
                    // that takes an argument takes the rest of the word, or the next word.
                    match a
                        .char_indices()
                        .skip(1)
                        .find(|(_, c)| CURL_ARG.contains(*c))
                    {
                        Some((k, c)) => {
                            short = format!("-{c}");
                            let rest = &a[k + c.len_utf8()..];
                            (short.as_str(), (!rest.is_empty()).then(|| rest.to_owned()))
                        }
                        None => continue,
                    }
                } else {
                    (a.as_str(), None)
                };
                let value = |it: &mut std::iter::Peekable<std::slice::Iter<'_, String>>| {
                    attached.clone().or_else(|| it.next().cloned())
                };
                match opt {
                    "-F" | "--form" | "--form-string" => {
                        if let Some(v) = value(&mut it) {
                            let file = v
                                .split_once("=@")
                                .or_else(|| v.split_once("=<"))
                                .map(|(_, p)| p.split(';').next().unwrap_or(p).to_owned());
                            out.extend(
                                file.filter(|p| !p.is_empty() && p != "-")
                                    .map(|p| (p, false)),
                            );
                        }
                    }
                    "-d" | "--data" | "--data-binary" | "--data-ascii" | "--data-urlencode"
                    | "--json" => {
                        if let Some(v) = value(&mut it)
                            && (v.starts_with('@') || opt == "--data-urlencode")
                        {
                            out.extend(at_file(&v).map(|p| (p, false)));
                        }
                    }
                    "-T" | "--upload-file" => {
                        if let Some(v) = value(&mut it)
                            && v != "-"
                        {
                            out.push((v, false));
                        }
                    }
                    _ => {}
                }
            }
            "wget" => {
                for key in ["--post-file", "--body-file"] {
                    if let Some(v) = a.strip_prefix(key).and_then(|r| r.strip_prefix('=')) {
                        out.push((v.to_owned(), false));
                    } else if a == key
                        && let Some(v) = it.next()
                    {
                        out.push((v.clone(), false));
                    }
                }
            }
            _ => {
                // httpie and xh: `field@path` uploads a file, `@path` sends it as the body.
                if a.starts_with('-') {
                    continue;
                }
                let before_at = a.split('@').next().unwrap_or("");
                if a.contains('@') && !before_at.contains(['=', ':', '/']) {
                    out.extend(at_file(a).map(|p| (p, false)));
                }
            }
        }
    }
}
