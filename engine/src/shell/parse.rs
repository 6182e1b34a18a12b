//! The command-list parser: separators, compound commands, simple commands, redirections and
//! heredocs, over the bytes of one source (the command string, or a body such as a `bash -c`
//! string, which gets a parser of its own that shares the output).
//!
//! The grammar is deliberately flat: only the structure that changes how the following bytes
//! are read is tracked (`( )` and `{ }` nesting, `case` patterns, heredocs pending at the end of
//! a line), on an explicit stack, so deep compound nesting costs no call stack. `if`, `then`,
//! `while`, `do`… are skipped where a command could start. Recursion happens only for
//! substitutions and bodies, and each level checks [`Out::max_depth`].

use super::code::{self, Lang};
use super::wrappers::{self, Follow};
use super::{Analysis, Context, Fact, FactKind, Limits, Redirect, SimpleCommand};

/// The highest `max_depth` honoured, whatever the [`Limits`] say.
const DEPTH_CAP: usize = 100;
/// The most heredocs waiting for their bodies at once.
const PENDING_CAP: usize = 256;
/// The most commands of a pipeline walked upstream from a shell reading it.
const PIPELINE_CAP: usize = 64;

/// A heredoc whose body has not been read yet (it starts after the next newline).
pub(super) struct Heredoc {
    /// The delimiter, quotes removed.
    delim: Vec<u8>,
    /// `<<-`: leading tabs are stripped from body lines and the delimiter line.
    strip_tabs: bool,
    /// The delimiter was quoted: the body is not expanded.
    quoted: bool,
    /// The `parse_simple` call that saw it (0 for a compound command's redirection).
    creator: u32,
    /// Index of its `Redirect` in the command's redirects.
    redirect: usize,
    /// Index of the command in [`Out::commands`], once reported.
    cmd: Option<usize>,
    /// The command reads shell code on stdin: the body is analysed as commands.
    shell: bool,
    /// The command reads code of this language on stdin: the body is scanned for the commands
    /// it runs.
    code: Option<Lang>,
    /// The command the body reaches through a pipe (`cat <<EOF | python3`), which gets it as
    /// its stdin data.
    feeds: Option<usize>,
    /// Reported depth of the command.
    depth: usize,
    /// Nesting level of the command.
    nest: usize,
}

/// The analysis being built, shared by every parser of one `analyze` call.
pub(super) struct Out {
    /// Effective depth limit.
    pub max_depth: usize,
    max_commands: usize,
    pub commands: Vec<SimpleCommand>,
    unparsed: Option<String>,
    /// Set when `max_commands` is reached: every parser stops.
    pub stop: bool,
    /// Bytes of bodies (`bash -c` strings, backtick contents…) that may still be parsed.
    work_left: usize,
    /// Bytes that look-ahead scans (arithmetic detection) may still read.
    pub(crate) skim_left: usize,
    pending: Vec<Heredoc>,
    next_id: u32,
    /// A function whose body (the next compound command) is about to open.
    defining: Option<String>,
    /// The functions whose bodies are being read, outermost first.
    in_functions: Vec<String>,
}

impl Out {
    /// Records why the analysis is incomplete (the first reason is kept).
    pub fn note(&mut self, reason: &str) {
        if self.unparsed.is_none() {
            self.unparsed = Some(reason.to_owned());
        }
    }

    /// Inserts `cmd` at `at` (or appends), keeping heredoc bookkeeping in step.
    fn insert(&mut self, at: usize, cmd: SimpleCommand) -> Option<usize> {
        if self.commands.len() >= self.max_commands {
            self.note("too many commands");
            self.stop = true;
            return None;
        }
        let at = at.min(self.commands.len());
        self.commands.insert(at, cmd);
        let shift = |c: &mut Option<usize>| {
            if let Some(c) = c
                && *c >= at
            {
                *c += 1;
            }
        };
        for h in &mut self.pending {
            shift(&mut h.cmd);
            shift(&mut h.feeds);
        }
        // Pipes point upstream, to commands reported before: only those after `at` move.
        for c in &mut self.commands[at + 1..] {
            shift(&mut c.stdin_pipe);
        }
        Some(at)
    }
}

/// Analyses `src` within `limits`.
pub(super) fn run(src: &str, limits: &Limits) -> Analysis {
    let budget = limits.max_input.saturating_mul(4).max(1 << 12);
    let mut out = Out {
        max_depth: limits.max_depth.min(DEPTH_CAP),
        max_commands: limits.max_commands,
        commands: Vec::new(),
        unparsed: None,
        stop: false,
        work_left: budget,
        skim_left: budget,
        pending: Vec::new(),
        next_id: 0,
        defining: None,
        in_functions: Vec::new(),
    };
    let mut text = src;
    if src.len() > limits.max_input {
        out.note("input too long");
        let mut end = limits.max_input;
        while !src.is_char_boundary(end) {
            end -= 1;
        }
        text = &src[..end];
    }
    let mut p = Parser::new(text.as_bytes(), &mut out, Context::TopLevel, 0, 0);
    p.parse_list(Term::Eof);
    p.finish();
    Analysis {
        commands: out.commands,
        unparsed: out.unparsed,
    }
}

/// What ends a command list.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Term {
    /// The end of the source.
    Eof,
    /// An unmatched `)`, consumed (`$( )`, `<( )`).
    Paren,
}

/// An open compound command. `func`: it is a function's body.
enum Frame {
    Paren {
        func: bool,
    },
    Brace {
        func: bool,
    },
    /// `case … in`; `pattern` while a pattern (not a command) comes next.
    Case {
        pattern: bool,
    },
}

/// Where reported commands go, and how they are labelled.
#[derive(Clone, Copy)]
pub(super) struct Level {
    pub ctx: Context,
    pub depth: usize,
    pub nest: usize,
}

/// A parser over one source.
pub(super) struct Parser<'s, 'o> {
    pub src: &'s [u8],
    pub pos: usize,
    pub out: &'o mut Out,
    /// Context of the commands found at this level.
    pub ctx: Context,
    /// Reported depth of the commands found at this level.
    pub depth: usize,
    /// Nesting level (checked against `max_depth`).
    pub nest: usize,
    /// Pending heredocs from this index on are read at this level's newlines.
    pend_base: usize,
    /// `pend_base` when this parser was made.
    first_base: usize,
    /// The last simple command reported at this level, while its pipeline may go on.
    last: Option<usize>,
    /// The command whose output the next simple command reads through a pipe.
    pipe_from: Option<usize>,
}

/// Bytes that end an unquoted word.
pub(super) fn is_meta(b: u8) -> bool {
    matches!(
        b,
        b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>'
    )
}

/// Keywords after which a `time` is the keyword, not `/usr/bin/time`.
const COMPOUND_START: &[&[u8]] = &[
    b"{",
    b"if",
    b"while",
    b"until",
    b"for",
    b"case",
    b"select",
    b"[[",
    b"!",
    b"function",
    b"coproc",
    b"time",
];

impl<'s, 'o> Parser<'s, 'o> {
    pub fn new(src: &'s [u8], out: &'o mut Out, ctx: Context, depth: usize, nest: usize) -> Self {
        let base = out.pending.len();
        Self {
            src,
            pos: 0,
            out,
            ctx,
            depth,
            nest,
            pend_base: base,
            first_base: base,
            last: None,
            pipe_from: None,
        }
    }

    /// The pipeline state of this level, to keep across a nested command list (`$( )`).
    pub(crate) fn save_pipes(&mut self) -> (Option<usize>, Option<usize>) {
        (self.last.take(), self.pipe_from.take())
    }

    pub(crate) fn restore_pipes(&mut self, (last, pipe_from): (Option<usize>, Option<usize>)) {
        self.last = last;
        self.pipe_from = pipe_from;
    }

    /// Ends this source: heredocs still waiting never got a body.
    pub fn finish(&mut self) {
        if self.out.pending.len() > self.first_base {
            if !self.out.stop {
                self.out.note("unterminated heredoc");
            }
            self.out.pending.truncate(self.first_base);
        }
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    pub(crate) fn peek_at(&self, k: usize) -> Option<u8> {
        self.src.get(self.pos + k).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Skips spaces, tabs and line continuations.
    pub(crate) fn skip_blanks(&mut self) {
        loop {
            match self.peek() {
                Some(b' ' | b'\t') => self.pos += 1,
                Some(b'\\') if self.peek_at(1) == Some(b'\n') => self.pos += 2,
                _ => return,
            }
        }
    }

    /// Skips blanks, newlines and comments (between `case WORD`/`for NAME` and `in`).
    fn skip_blank_lines(&mut self) {
        loop {
            self.skip_blanks();
            match self.peek() {
                Some(b'\n') => self.newline(),
                Some(b'#') => self.skip_comment(),
                _ => return,
            }
        }
    }

    /// Skips a comment up to (not including) the newline.
    fn skip_comment(&mut self) {
        let rest = &self.src[self.pos.min(self.src.len())..];
        self.pos += rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    }

    /// The word at `pos` if it is plain (no quotes, escapes or expansions): keywords must be.
    fn peek_plain(&self) -> Option<&'s [u8]> {
        let src = self.src;
        let mut i = self.pos;
        while let Some(&b) = src.get(i) {
            if is_meta(b) {
                break;
            }
            if matches!(b, b'\'' | b'"' | b'\\' | b'$' | b'`') {
                return None;
            }
            i += 1;
        }
        (i > self.pos).then(|| &src[self.pos..i])
    }

    /// Consumes a newline and reads the heredoc bodies that start after it.
    pub fn newline(&mut self) {
        self.pos += 1;
        if self.out.pending.len() > self.pend_base {
            self.read_heredocs();
        }
    }

    /// Parses commands until the end of the source or, for [`Term::Paren`], an unmatched `)`.
    pub(crate) fn parse_list(&mut self, term: Term) {
        let saved_base = self.pend_base;
        let saved_functions = self.out.in_functions.len();
        self.pend_base = self.out.pending.len();
        let mut stack: Vec<Frame> = Vec::new();
        let mut closed = term == Term::Eof;
        while !self.out.stop {
            self.skip_blanks();
            let Some(b) = self.peek() else { break };
            if matches!(stack.last(), Some(Frame::Case { pattern: true })) {
                self.case_pattern(&mut stack);
                continue;
            }
            if matches!(b, b'\n' | b';' | b'&' | b'(' | b')') {
                // Only a pipe carries output to the next command (`&>` is a redirection,
                // which keeps it).
                if !(b == b'&' && self.peek_at(1) == Some(b'>')) {
                    self.last = None;
                    self.pipe_from = None;
                }
            }
            match b {
                b'\n' => {
                    self.newline();
                    continue;
                }
                b'#' => {
                    self.skip_comment();
                    continue;
                }
                b';' => {
                    self.pos += 1;
                    // `;;`, `;;&`, `;&` end a case arm.
                    if self.eat(b';') {
                        self.eat(b'&');
                        case_next(&mut stack);
                    } else if self.eat(b'&') {
                        case_next(&mut stack);
                    }
                    continue;
                }
                b'&' if self.peek_at(1) != Some(b'>') => {
                    self.pos += 1;
                    self.eat(b'&');
                    continue;
                }
                b'|' => {
                    self.pos += 1;
                    if self.eat(b'|') {
                        self.last = None;
                        self.pipe_from = None;
                    } else {
                        self.eat(b'&');
                        self.pipe_from = self.last.take();
                    }
                    continue;
                }
                b')' => {
                    self.pos += 1;
                    if matches!(stack.last(), Some(Frame::Paren { .. })) {
                        self.pop_frame(&mut stack);
                        self.trailing_redirects();
                    } else if term == Term::Paren {
                        closed = true;
                        break;
                    } else {
                        self.out.note("unexpected `)`");
                    }
                    continue;
                }
                b'(' => {
                    if self.peek_at(1) == Some(b'(') && self.arith_ahead(self.pos + 2) {
                        // `(( expr ))`: only its substitutions run commands.
                        self.pos += 2;
                        self.scan_balanced(b'(', b')', 2, false, "((");
                        self.trailing_redirects();
                    } else {
                        self.pos += 1;
                        self.push_frame(&mut stack, Frame::Paren { func: false });
                    }
                    continue;
                }
                _ => {}
            }
            if let Some(kw) = self.peek_plain()
                && self.keyword(kw, &mut stack)
            {
                continue;
            }
            let before = self.pos;
            self.parse_simple();
            if self.pos == before {
                self.pos += 1;
            }
        }
        if !self.out.stop {
            if !closed {
                self.out.note("unterminated `$(`");
            } else if !stack.is_empty() {
                self.out.note("unterminated compound command");
            }
        }
        self.out.in_functions.truncate(saved_functions);
        self.pend_base = saved_base;
    }

    /// Opens a compound command; a `( )` or `{ }` right after `name ()` is that function's
    /// body.
    fn push_frame(&mut self, stack: &mut Vec<Frame>, mut frame: Frame) {
        if stack.len() + self.nest >= self.out.max_depth {
            self.out.note("nesting too deep");
        }
        if let Frame::Paren { func } | Frame::Brace { func } = &mut frame
            && let Some(name) = self.out.defining.take()
        {
            *func = true;
            self.out.in_functions.push(name);
        }
        stack.push(frame);
    }

    fn pop_frame(&mut self, stack: &mut Vec<Frame>) {
        if let Some(Frame::Paren { func: true } | Frame::Brace { func: true }) = stack.pop() {
            self.out.in_functions.pop();
        }
    }

    /// Handles a keyword in command position; false if `kw` is not one (or `time` is not).
    fn keyword(&mut self, kw: &[u8], stack: &mut Vec<Frame>) -> bool {
        match kw {
            b"if" | b"then" | b"else" | b"elif" | b"do" | b"while" | b"until" | b"!" => {
                self.pos += kw.len();
            }
            b"fi" | b"done" => {
                self.pos += kw.len();
                self.trailing_redirects();
            }
            b"{" => {
                self.pos += 1;
                self.push_frame(stack, Frame::Brace { func: false });
            }
            b"}" => {
                self.pos += 1;
                if matches!(stack.last(), Some(Frame::Brace { .. })) {
                    self.pop_frame(stack);
                }
                self.trailing_redirects();
            }
            b"esac" => {
                self.pos += 4;
                if matches!(stack.last(), Some(Frame::Case { .. })) {
                    stack.pop();
                }
                self.trailing_redirects();
            }
            b"case" => {
                self.pos += 4;
                self.case_head();
                self.push_frame(stack, Frame::Case { pattern: true });
            }
            b"for" | b"select" => {
                self.pos += kw.len();
                self.for_head();
            }
            b"function" => {
                self.pos += kw.len();
                self.skip_blanks();
                if self.peek().is_some_and(|b| !is_meta(b)) {
                    let name = self.read_word().text;
                    self.out.defining = Some(name);
                }
                self.skip_blanks();
                self.funcdef_parens();
            }
            b"coproc" => {
                self.pos += kw.len();
                self.skip_blanks();
                // `coproc NAME { …; }`: NAME is not a command.
                if let Some(name) = self.peek_plain() {
                    let save = self.pos;
                    self.pos += name.len();
                    self.skip_blanks();
                    let compound = self.peek() == Some(b'(')
                        || self
                            .peek_plain()
                            .is_some_and(|w| COMPOUND_START.contains(&w));
                    if !compound {
                        self.pos = save;
                    }
                }
            }
            b"time" => {
                let save = self.pos;
                self.pos += 4;
                self.skip_blanks();
                if self.peek_plain() == Some(b"-p") {
                    self.pos += 2;
                    self.skip_blanks();
                }
                let compound = self.peek() == Some(b'(')
                    || self
                        .peek_plain()
                        .is_some_and(|w| COMPOUND_START.contains(&w));
                if !compound {
                    // `time cmd`: a wrapper, stripped like `/usr/bin/time`.
                    self.pos = save;
                    return false;
                }
            }
            b"[[" => {
                self.pos += 2;
                self.cond_command();
            }
            _ => return false,
        }
        true
    }

    /// `case WORD in` (after `case`).
    fn case_head(&mut self) {
        self.skip_blanks();
        if self.peek().is_some_and(|b| !is_meta(b)) {
            self.read_word();
        }
        self.skip_blank_lines();
        if self.peek_plain() == Some(b"in") {
            self.pos += 2;
        } else {
            self.out.note("`case` without `in`");
        }
    }

    /// A case arm's patterns up to `)`, or `esac`.
    fn case_pattern(&mut self, stack: &mut Vec<Frame>) {
        match self.peek() {
            Some(b'\n') => return self.newline(),
            Some(b'#') => return self.skip_comment(),
            Some(b';') => {
                self.pos += 1;
                return;
            }
            _ => {}
        }
        if self.peek_plain() == Some(b"esac") {
            self.pos += 4;
            stack.pop();
            self.trailing_redirects();
            return;
        }
        self.eat(b'(');
        loop {
            self.skip_blanks();
            match self.peek() {
                None => return,
                Some(b')') => {
                    self.pos += 1;
                    break;
                }
                Some(b'\n') => {
                    self.out.note("newline in case pattern");
                    self.newline();
                    break;
                }
                Some(b'<' | b'>') if self.peek_at(1) == Some(b'(') => {
                    self.read_word();
                }
                Some(b) if is_meta(b) => self.pos += 1,
                Some(_) => {
                    self.read_word();
                }
            }
        }
        if let Some(Frame::Case { pattern }) = stack.last_mut() {
            *pattern = false;
        }
    }

    /// `for NAME [in WORDS]` or `for (( … ))` (after `for`/`select`).
    fn for_head(&mut self) {
        self.skip_blanks();
        if self.peek() == Some(b'(') && self.peek_at(1) == Some(b'(') {
            self.pos += 2;
            self.scan_balanced(b'(', b')', 2, false, "((");
            return;
        }
        if self.peek().is_some_and(|b| !is_meta(b)) {
            self.read_word();
        }
        self.skip_blank_lines();
        if self.peek_plain() != Some(b"in") {
            return;
        }
        self.pos += 2;
        loop {
            self.skip_blanks();
            match self.peek() {
                None | Some(b';' | b'\n' | b'&' | b'|' | b')' | b'(') => return,
                Some(b'#') => return self.skip_comment(),
                Some(b'<' | b'>') if self.peek_at(1) != Some(b'(') => return,
                Some(_) => {
                    self.read_word();
                }
            }
        }
    }

    /// `[[ … ]]` (after `[[`), reported as a command named `[[`.
    fn cond_command(&mut self) {
        let at = self.out.commands.len();
        let mut args = Vec::new();
        loop {
            self.skip_blanks();
            let Some(b) = self.peek() else {
                self.out.note("unterminated `[[`");
                break;
            };
            if b == b'\n' {
                self.newline();
                continue;
            }
            if self.peek_plain() == Some(b"]]") {
                self.pos += 2;
                break;
            }
            match b {
                b';' => break,
                b'<' | b'>' if self.peek_at(1) == Some(b'(') => args.push(self.read_word().text),
                b'&' | b'|' | b'<' | b'>' | b'(' | b')' => {
                    let n = if self.peek_at(1) == Some(b) && matches!(b, b'&' | b'|') {
                        2
                    } else {
                        1
                    };
                    args.push(
                        String::from_utf8_lossy(&self.src[self.pos..self.pos + n]).into_owned(),
                    );
                    self.pos += n;
                }
                _ => args.push(self.read_word().text),
            }
        }
        let cmd = SimpleCommand {
            name: "[[".to_owned(),
            args,
            redirects: Vec::new(),
            assignments: Vec::new(),
            wrappers: Vec::new(),
            stdin_data: None,
            context: self.ctx,
            depth: self.depth,
            stdin_pipe: None,
            facts: Vec::new(),
        };
        self.out.insert(at, cmd);
    }

    /// `( )` after a function name: consumed if present.
    fn funcdef_parens(&mut self) -> bool {
        let save = self.pos;
        if self.eat(b'(') {
            self.skip_blanks();
            if self.eat(b')') {
                return true;
            }
        }
        self.pos = save;
        false
    }

    /// Length of the fd prefix if a redirection starts at `pos`.
    fn redirect_prefix(&self) -> Option<usize> {
        let s = &self.src[self.pos.min(self.src.len())..];
        let op_at = |n: usize| matches!(s.get(n), Some(b'<' | b'>')) && s.get(n + 1) != Some(&b'(');
        match *s.first()? {
            b'<' | b'>' => op_at(0).then_some(0),
            b'&' => (s.get(1) == Some(&b'>')).then_some(0),
            b'0'..=b'9' => {
                let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
                op_at(n).then_some(n)
            }
            b'{' => {
                let n = 1 + s[1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                (n > 1 && s.get(n) == Some(&b'}') && op_at(n + 1)).then_some(n + 1)
            }
            _ => None,
        }
    }

    /// Reads one redirection whose fd prefix is `prefix` bytes long.
    fn redirect(
        &mut self,
        prefix: usize,
        creator: u32,
        redirects: &mut Vec<Redirect>,
        here: &mut Vec<String>,
    ) {
        let start = self.pos;
        self.pos += prefix;
        let s = &self.src[self.pos..];
        let n = [
            &b"<<<"[..],
            b"<<-",
            b"&>>",
            b"<<",
            b"<>",
            b"<&",
            b"&>",
            b">>",
            b">&",
            b">|",
        ]
        .iter()
        .find(|op| s.starts_with(op))
        .map_or(1, |op| op.len());
        let op_bytes = &s[..n];
        let heredoc = op_bytes == b"<<" || op_bytes == b"<<-";
        let strip_tabs = op_bytes == b"<<-";
        let herestring = op_bytes == b"<<<";
        self.pos += n;
        let op = String::from_utf8_lossy(&self.src[start..self.pos]).into_owned();
        self.skip_blanks();
        let has_target = match self.peek() {
            None => false,
            Some(b'<' | b'>') => self.peek_at(1) == Some(b'('),
            Some(b) => !is_meta(b),
        };
        if !has_target {
            self.out.note("redirection without a target");
            redirects.push(Redirect {
                op,
                target: String::new(),
            });
            return;
        }
        let w = self.read_word();
        if heredoc {
            if self.out.pending.len() >= PENDING_CAP {
                self.out.note("too many heredocs");
            } else {
                self.out.pending.push(Heredoc {
                    delim: w.text.into_bytes(),
                    strip_tabs,
                    quoted: w.quoted,
                    creator,
                    redirect: redirects.len(),
                    cmd: None,
                    shell: false,
                    code: None,
                    feeds: None,
                    depth: self.depth,
                    nest: self.nest,
                });
            }
            redirects.push(Redirect {
                op,
                target: String::new(),
            });
        } else {
            if herestring {
                here.push(w.text.clone());
            }
            redirects.push(Redirect { op, target: w.text });
        }
    }

    /// Redirections after a compound command (`done < file`, `} 2>&1`).
    fn trailing_redirects(&mut self) {
        let mut redirects = Vec::new();
        let mut here = Vec::new();
        loop {
            self.skip_blanks();
            match self.redirect_prefix() {
                Some(prefix) => self.redirect(prefix, 0, &mut redirects, &mut here),
                None => return,
            }
        }
    }

    /// A simple command (or a function definition's `name ()`).
    fn parse_simple(&mut self) {
        let at = self.out.commands.len();
        // A function's body is a compound command, which has opened by now.
        self.out.defining = None;
        // Taken before the words: a substitution in them parses commands of its own.
        let piped = self.pipe_from.take();
        self.out.next_id = self.out.next_id.wrapping_add(1).max(1);
        let id = self.out.next_id;
        let mut words: Vec<String> = Vec::new();
        // For each word: would it be a computed command name (see `word::computed_name`)?
        let mut computed: Vec<bool> = Vec::new();
        let mut assigns = Vec::new();
        let mut redirects = Vec::new();
        let mut here = Vec::new();
        loop {
            if self.out.stop {
                return;
            }
            self.skip_blanks();
            let Some(b) = self.peek() else { break };
            if let Some(prefix) = self.redirect_prefix() {
                self.redirect(prefix, id, &mut redirects, &mut here);
                continue;
            }
            match b {
                b'\n' | b';' | b'|' | b'&' | b')' => break,
                b'(' => {
                    if words.len() == 1
                        && assigns.is_empty()
                        && redirects.is_empty()
                        && self.funcdef_parens()
                    {
                        // `name () body`: the body follows as commands.
                        self.out.defining = words.pop();
                        return;
                    }
                    break;
                }
                b'#' => {
                    self.skip_comment();
                    break;
                }
                _ => {}
            }
            let before = self.pos;
            let w = self.read_word();
            if self.pos == before {
                self.pos += 1;
                continue;
            }
            let raw = &self.src[w.start..w.end];
            if words.is_empty() && is_assignment(raw) {
                assigns.push(w.text);
            } else if let Some(items) = brace_list(raw) {
                // `{rm,-rf,/}` is brace-expanded to `rm -rf /`.
                computed.extend(items.iter().map(|_| false));
                words.extend(items);
            } else {
                for (piece, c) in w.pieces() {
                    words.push(piece);
                    computed.push(c);
                }
            }
        }
        let level = Level {
            ctx: self.ctx,
            depth: self.depth,
            nest: self.nest,
        };
        self.last = None;
        if words.is_empty() {
            if assigns.is_empty() && redirects.is_empty() {
                return;
            }
            let cmd = SimpleCommand {
                name: String::new(),
                args: Vec::new(),
                redirects,
                assignments: assigns,
                wrappers: Vec::new(),
                stdin_data: here.last().cloned(),
                context: self.ctx,
                depth: self.depth,
                stdin_pipe: piped,
                facts: Vec::new(),
            };
            let idx = self.out.insert(at, cmd);
            self.bind_heredocs(id, idx, Reads::Data, level);
            return;
        }
        // A pipe is not the command's input when a redirection replaces it.
        let stdin_redirected = redirects
            .iter()
            .any(|r| matches!(r.op.as_str(), "<" | "<<" | "<<-" | "<<<" | "0<" | "<>"));
        let stdin_data = here.last().cloned();
        let input = Input {
            redirects,
            stdin_data,
            piped,
        };
        let emitted = self.emit(at, words, computed, assigns, input, level);
        let Some((idx, reads, level)) = emitted else {
            self.bind_heredocs(id, None, Reads::Data, level);
            return;
        };
        self.bind_heredocs(id, Some(idx), reads, level);
        self.last = Some(idx);
        match reads {
            Reads::Shell => {
                for body in &here {
                    self.analyse_source(
                        body.as_bytes(),
                        Context::ShellBody,
                        level.depth + 1,
                        level.nest + 1,
                    );
                }
            }
            Reads::Code(lang) => {
                for body in &here {
                    self.scan_code(lang, body, idx, level);
                }
            }
            Reads::Query | Reads::Data => {}
        }
        if reads != Reads::Data
            && !stdin_redirected
            && let Some(up) = piped
        {
            self.feed_pipe(up, idx, reads, level);
        }
    }

    /// A command reads its input through a pipe, as shell code, interpreter code or a query.
    /// When the upstream text is known here (`cat <<EOF`, `cat <<<…`, `echo …`, `printf …`),
    /// it is analysed as that; otherwise the upstream commands are marked: what they produce
    /// runs, and hookd cannot see it.
    fn feed_pipe(&mut self, up: usize, consumer: usize, reads: Reads, level: Level) {
        let Some(c) = self.out.commands.get(up) else {
            return;
        };
        let body = match c.name.as_str() {
            "cat" if c.args.iter().all(|a| a == "-") => {
                let mut pending = false;
                for h in &mut self.out.pending {
                    if h.cmd == Some(up) {
                        match reads {
                            Reads::Shell => h.shell = true,
                            Reads::Code(lang) => h.code = Some(lang),
                            Reads::Query | Reads::Data => {}
                        }
                        h.feeds = Some(consumer);
                        h.depth = level.depth;
                        h.nest = level.nest;
                        pending = true;
                    }
                }
                if pending {
                    return;
                }
                c.stdin_data.clone()
            }
            "echo" => Some(echo_text(&c.args)),
            "printf" => Some(printf_text(&c.args)),
            _ => None,
        };
        match (body, reads) {
            (Some(body), Reads::Shell) => {
                self.analyse_source(
                    body.as_bytes(),
                    Context::ShellBody,
                    level.depth + 1,
                    level.nest + 1,
                );
            }
            (Some(body), Reads::Code(lang)) => {
                self.give_stdin(consumer, &body);
                self.scan_code(lang, &body, consumer, level);
            }
            (Some(body), _) => self.give_stdin(consumer, &body),
            (None, Reads::Shell | Reads::Code(_)) => self.mark_piped_code(up, consumer),
            (None, _) => {}
        }
    }

    /// The text a command reads on stdin, when it had none.
    fn give_stdin(&mut self, idx: usize, text: &str) {
        if let Some(c) = self.out.commands.get_mut(idx)
            && c.stdin_data.is_none()
        {
            c.stdin_data = Some(text.to_owned());
        }
    }

    /// Marks `up` and the commands upstream of it in its pipeline: their output is code that
    /// `consumer` runs.
    fn mark_piped_code(&mut self, up: usize, consumer: usize) {
        let runner = self
            .out
            .commands
            .get(consumer)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        let mut next = Some(up);
        for _ in 0..PIPELINE_CAP {
            let Some(c) = next.and_then(|i| self.out.commands.get_mut(i)) else {
                break;
            };
            let detail = format!(
                "the code `{runner}` runs comes through a pipe from `{}`",
                excerpt(&c.text())
            );
            c.facts.push(Fact {
                kind: FactKind::PipedCode,
                detail,
            });
            next = c.stdin_pipe;
        }
    }

    /// Scans interpreter code (an inline `-c`/`-e` program or its stdin) for the commands it
    /// runs, analysed as shell code; a command built at run time marks the interpreter's
    /// command `idx`.
    fn scan_code(&mut self, lang: Lang, src: &str, idx: usize, level: Level) {
        if self.out.stop {
            return;
        }
        if src.len() > self.out.work_left {
            self.out.note("work limit reached");
            return;
        }
        self.out.work_left -= src.len();
        let mut bodies = Vec::new();
        for found in code::scan(lang, src) {
            match found {
                code::Found::Command(_) | code::Found::Delete(_) => {
                    bodies.extend(found.shell());
                }
                code::Found::Computed(call) => {
                    if let Some(c) = self.out.commands.get_mut(idx) {
                        c.facts.push(Fact {
                            kind: FactKind::ComputedCommand,
                            detail: format!(
                                "`{}` in its code runs a command built at run time",
                                excerpt(&call)
                            ),
                        });
                    }
                }
            }
        }
        for body in bodies {
            self.analyse_source(
                body.as_bytes(),
                Context::Code,
                level.depth + 1,
                level.nest + 1,
            );
        }
    }

    fn bind_heredocs(&mut self, id: u32, idx: Option<usize>, reads: Reads, level: Level) {
        for h in &mut self.out.pending {
            if h.creator == id {
                h.cmd = idx;
                h.shell = reads == Reads::Shell;
                h.code = match reads {
                    Reads::Code(lang) => Some(lang),
                    _ => None,
                };
                h.depth = level.depth;
                h.nest = level.nest;
            }
        }
    }

    /// Reports the command in `words` (wrappers stripped) at index `at`, then what it runs.
    /// `computed` says, for each word, whether it would be a computed command name. Returns
    /// its index, how it reads its stdin, and its level.
    fn emit(
        &mut self,
        at: usize,
        mut words: Vec<String>,
        mut computed: Vec<bool>,
        mut assigns: Vec<String>,
        input: Input,
        level: Level,
    ) -> Option<(usize, Reads, Level)> {
        let room = self.out.max_depth.saturating_sub(level.nest);
        let plan = wrappers::resolve(&mut words, &mut computed, room);
        if plan.truncated {
            self.out.note("nesting too deep");
        }
        let level = if plan.exec_levels > 0 {
            Level {
                ctx: Context::Exec,
                depth: level.depth + plan.exec_levels,
                nest: level.nest + plan.exec_levels,
            }
        } else {
            level
        };
        assigns.extend(plan.assigns);
        let name_computed = computed.get(plan.start).copied().unwrap_or(false);
        let mut rest = words.into_iter().skip(plan.start);
        let raw_name = rest.next().unwrap_or_default();
        let mut facts = Vec::new();
        if name_computed {
            facts.push(Fact {
                kind: FactKind::ComputedCommand,
                detail: format!("the command name comes from `{}`", excerpt(&raw_name)),
            });
        }
        // A computed name stays as written: its last `/` may be inside the expansion.
        let name = if name_computed {
            raw_name
        } else {
            wrappers::basename(&raw_name).to_owned()
        };
        // In a function's body, a call of the function piped from another call of it.
        let piped_self = input
            .piped
            .and_then(|up| self.out.commands.get(up))
            .is_some_and(|u| u.name == name);
        if piped_self && self.out.in_functions.contains(&name) {
            facts.push(Fact {
                kind: FactKind::ForkBomb,
                detail: format!("the function `{name}` pipes into itself"),
            });
        }
        let args: Vec<String> = rest.collect();
        let reads = match plan.follow {
            Follow::Stdin => Reads::Shell,
            _ => match code::stdin_of(&name, &args) {
                code::Stdin::Code(lang) => Reads::Code(lang),
                code::Stdin::Query => Reads::Query,
                code::Stdin::Data => Reads::Data,
            },
        };
        let inline = code::lang_of(&name).map(|lang| (lang, code::inline(lang, &args)));
        let cmd = SimpleCommand {
            name,
            args,
            redirects: input.redirects,
            assignments: assigns,
            wrappers: plan.wrappers,
            stdin_data: input.stdin_data,
            context: level.ctx,
            depth: level.depth,
            stdin_pipe: input.piped,
            facts,
        };
        let idx = self.out.insert(at, cmd)?;
        if let Some((lang, programs)) = inline {
            for (word, program) in &programs {
                // The program itself comes from an expansion (`python3 -c "$CODE"`,
                // `node -e "$(curl …)"`): hookd cannot read it.
                let from_expansion = word
                    .and_then(|k| computed.get(plan.start + 1 + k))
                    .is_some_and(|&c| c)
                    && program.starts_with(['$', '`']);
                if from_expansion && let Some(c) = self.out.commands.get_mut(idx) {
                    c.facts.push(Fact {
                        kind: FactKind::ComputedCommand,
                        detail: format!(
                            "the code `{}` runs comes from `{}`",
                            c.name,
                            excerpt(program)
                        ),
                    });
                }
                self.scan_code(lang, program, idx, level);
            }
        }
        match plan.follow {
            Follow::Nothing | Follow::Stdin => {}
            Follow::Body(body, ctx) => {
                self.analyse_source(body.as_bytes(), ctx, level.depth + 1, level.nest + 1);
            }
            Follow::Bodies(bodies, ctx) => {
                for body in &bodies {
                    self.analyse_source(body.as_bytes(), ctx, level.depth + 1, level.nest + 1);
                }
            }
            Follow::Exec(lists) => {
                let inner = Level {
                    ctx: Context::Exec,
                    depth: level.depth + 1,
                    nest: level.nest + 1,
                };
                for list in lists {
                    if self.out.stop {
                        break;
                    }
                    if inner.nest > self.out.max_depth {
                        self.out.note("nesting too deep");
                        break;
                    }
                    let at = self.out.commands.len();
                    let computed = vec![false; list.len()];
                    let input = Input {
                        redirects: Vec::new(),
                        stdin_data: None,
                        piped: None,
                    };
                    self.emit(at, list, computed, Vec::new(), input, inner);
                }
            }
        }
        Some((idx, reads, level))
    }

    /// Analyses `body` as shell code in a parser of its own.
    pub(crate) fn analyse_source(&mut self, body: &[u8], ctx: Context, depth: usize, nest: usize) {
        if self.out.stop {
            return;
        }
        if nest > self.out.max_depth {
            self.out.note("nesting too deep");
            return;
        }
        if body.len() > self.out.work_left {
            self.out.note("work limit reached");
            return;
        }
        self.out.work_left -= body.len();
        let mut p = Parser::new(body, &mut *self.out, ctx, depth, nest);
        p.parse_list(Term::Eof);
        p.finish();
    }

    /// Analyses only the substitutions in an unquoted heredoc body (which bash expands).
    fn scan_expansions(&mut self, body: &[u8], depth: usize, nest: usize) {
        if self.out.stop || !body.iter().any(|&b| b == b'$' || b == b'`') {
            return;
        }
        if body.len() > self.out.work_left {
            self.out.note("work limit reached");
            return;
        }
        self.out.work_left -= body.len();
        let mut p = Parser::new(body, &mut *self.out, Context::Substitution, depth, nest);
        let mut sink = Vec::new();
        while let Some(b) = p.peek() {
            if p.out.stop {
                break;
            }
            match b {
                b'\\' => p.pos = (p.pos + 2).min(body.len()),
                b'$' => {
                    p.dollar(&mut sink, true);
                }
                b'`' => p.backtick(&mut sink),
                _ => p.pos += 1,
            }
            sink.clear();
        }
        p.finish();
    }

    /// Reads the bodies of the heredocs pending at this level (after a newline), fills in
    /// their commands, then analyses those fed to a shell and scans those fed to an
    /// interpreter.
    fn read_heredocs(&mut self) {
        let docs: Vec<Heredoc> = self.out.pending.drain(self.pend_base..).collect();
        let mut bodies = Vec::with_capacity(docs.len());
        for d in &docs {
            let body = super::word::lossy(self.heredoc_body(d));
            if let Some(c) = d.cmd.and_then(|i| self.out.commands.get_mut(i)) {
                if let Some(r) = c.redirects.get_mut(d.redirect) {
                    r.target.clone_from(&body);
                }
                c.stdin_data = Some(body.clone());
            }
            bodies.push(body);
        }
        for (d, body) in docs.iter().zip(&bodies) {
            if !d.shell
                && let Some(f) = d.feeds
            {
                self.give_stdin(f, body);
            }
        }
        for (d, body) in docs.iter().zip(&bodies) {
            if d.shell {
                self.analyse_source(body.as_bytes(), Context::ShellBody, d.depth + 1, d.nest + 1);
                continue;
            }
            if let (Some(lang), Some(idx)) = (d.code, d.feeds.or(d.cmd)) {
                let level = Level {
                    ctx: self.ctx,
                    depth: d.depth,
                    nest: d.nest,
                };
                self.scan_code(lang, body, idx, level);
            }
            if !d.quoted {
                self.scan_expansions(body.as_bytes(), d.depth, d.nest);
            }
        }
    }

    /// One heredoc body, from `pos` to the delimiter line (consumed).
    fn heredoc_body(&mut self, d: &Heredoc) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            if self.pos >= self.src.len() {
                self.out.note("unterminated heredoc");
                return body;
            }
            let rest = &self.src[self.pos..];
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let mut line = &rest[..end];
            if d.strip_tabs {
                let tabs = line.iter().take_while(|&&b| b == b'\t').count();
                line = &line[tabs..];
            }
            self.pos = (self.pos + end + 1).min(self.src.len());
            if line == d.delim.as_slice() {
                return body;
            }
            body.extend_from_slice(line);
            body.push(b'\n');
        }
    }

    /// Is the `((` whose contents start at `from` arithmetic (its match is `))`)? Bash's rule:
    /// otherwise it is two nested subshells. An unterminated one counts as arithmetic.
    pub(crate) fn arith_ahead(&mut self, from: usize) -> bool {
        let mut i = from;
        let mut count = 1usize;
        while let Some(&b) = self.src.get(i) {
            if self.out.skim_left == 0 {
                self.out.note("work limit reached");
                return false;
            }
            self.out.skim_left -= 1;
            match b {
                b'\\' => i += 1,
                b'\'' => {
                    let rest = &self.src[(i + 1).min(self.src.len())..];
                    let n = rest.iter().position(|&c| c == b'\'').unwrap_or(rest.len());
                    self.out.skim_left = self.out.skim_left.saturating_sub(n);
                    i += n + 1;
                }
                b'(' => count += 1,
                b')' => {
                    count -= 1;
                    if count == 0 {
                        return self.src.get(i + 1) == Some(&b')');
                    }
                }
                _ => {}
            }
            i += 1;
        }
        // Unterminated: read it as the `((` it starts with (the note will say so).
        true
    }
}

fn case_next(stack: &mut [Frame]) {
    if let Some(Frame::Case { pattern }) = stack.last_mut() {
        *pattern = true;
    }
}

/// `NAME=`, `NAME+=`, `NAME[…]=` at the start of a word (as written).
pub(super) fn is_assignment(raw: &[u8]) -> bool {
    let Some(eq) = raw.iter().position(|&b| b == b'=') else {
        return false;
    };
    let mut name = &raw[..eq];
    if let Some(n) = name.strip_suffix(b"+") {
        name = n;
    }
    if name.last() == Some(&b']') {
        match name.iter().position(|&b| b == b'[') {
            Some(lb) => name = &name[..lb],
            None => return false,
        }
    }
    match name.first() {
        Some(&c) if c.is_ascii_alphabetic() || c == b'_' => {
            name.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        }
        _ => false,
    }
}

/// How a command reads its standard input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Reads {
    /// As data.
    Data,
    /// As shell code (`bash`, `sh -s`, `sudo -s`…).
    Shell,
    /// As code of an interpreter (`python3 -`, `node`, `perl`).
    Code(Lang),
    /// As queries (`psql`, `mysql`): only added to the command's text.
    Query,
}

/// A simple command's input: redirections, heredoc or here-string data, and the pipe.
struct Input {
    redirects: Vec<Redirect>,
    stdin_data: Option<String>,
    piped: Option<usize>,
}

/// At most 80 characters of `s` on one line, for facts.
fn excerpt(s: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = s
        .chars()
        .take(MAX)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().nth(MAX).is_some() {
        out.push('…');
    }
    out
}

/// `{a,b,c}` as written (no quotes, expansions or nested braces): its items, which bash
/// expands to separate words. Empty items are dropped, as bash drops empty words.
fn brace_list(raw: &[u8]) -> Option<Vec<String>> {
    let inner = raw.strip_prefix(b"{")?.strip_suffix(b"}")?;
    if !inner.contains(&b',')
        || inner
            .iter()
            .any(|b| matches!(b, b'{' | b'}' | b'\'' | b'"' | b'\\' | b'$' | b'`'))
    {
        return None;
    }
    Some(
        inner
            .split(|&b| b == b',')
            .filter(|i| !i.is_empty())
            .map(|i| String::from_utf8_lossy(i).into_owned())
            .collect(),
    )
}

/// The text `echo ARGS` prints: `-n`, `-e`, `-E` flags honoured (`-e` decodes escapes).
fn echo_text(args: &[String]) -> String {
    let mut escapes = false;
    let mut i = 0;
    while let Some(a) = args.get(i) {
        let flags = a
            .strip_prefix('-')
            .filter(|f| !f.is_empty() && f.bytes().all(|b| matches!(b, b'n' | b'e' | b'E')));
        let Some(flags) = flags else { break };
        for b in flags.bytes() {
            match b {
                b'e' => escapes = true,
                b'E' => escapes = false,
                _ => {}
            }
        }
        i += 1;
    }
    let text = args[i..].join(" ");
    if escapes {
        decode_escapes(&text, false).0
    } else {
        text
    }
}

/// The text `printf FORMAT ARGS` prints: escapes decoded, `%s`/`%b`/`%d`… replaced by the
/// arguments in turn, the format reused while arguments remain.
fn printf_text(args: &[String]) -> String {
    let Some(format) = args.first() else {
        return String::new();
    };
    let (format, _) = decode_escapes(format, true);
    let mut rest = args[1..].iter();
    let mut out = String::new();
    // Each pass consumes at least one argument, so this ends.
    for _ in 0..=args.len() {
        let mut used = false;
        let mut chars = format.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            if chars.peek() == Some(&'%') {
                chars.next();
                out.push('%');
                continue;
            }
            // Flags, width, precision, then the conversion.
            let mut conv = None;
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    conv = Some(c);
                    break;
                }
            }
            let arg = rest.next();
            used |= arg.is_some();
            let arg = arg.map_or("", String::as_str);
            if conv == Some('b') {
                let (text, stop) = decode_escapes(arg, false);
                out.push_str(&text);
                if stop {
                    return out;
                }
            } else {
                out.push_str(arg);
            }
        }
        if !used || rest.len() == 0 {
            break;
        }
    }
    out
}

/// Decodes backslash escapes as `echo -e` (`\0NNN`) or `printf`'s format (`\NNN`) does.
/// Returns the text and whether `\c` stopped the output.
fn decode_escapes(s: &str, printf: bool) -> (String, bool) {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let digits = |from: usize, radix: u32, max: usize| {
        let mut v = 0u32;
        let mut n = 0;
        while n < max
            && let Some(d) = b.get(from + n).and_then(|&c| char::from(c).to_digit(radix))
        {
            v = v * radix + d;
            n += 1;
        }
        (v, n)
    };
    while let Some(&c) = b.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let Some(&e) = b.get(i + 1) else {
            out.push(b'\\');
            break;
        };
        i += 2;
        let byte = match e {
            b'n' => b'\n',
            b't' => b'\t',
            b'r' => b'\r',
            b'a' => 7,
            b'b' => 8,
            b'f' => 0x0c,
            b'v' => 0x0b,
            b'e' | b'E' => 0x1b,
            b'\\' => b'\\',
            b'c' => return (super::word::lossy(out), true),
            b'x' => {
                let (v, n) = digits(i, 16, 2);
                if n == 0 {
                    out.extend_from_slice(b"\\x");
                    continue;
                }
                i += n;
                (v & 0xff) as u8
            }
            b'0' if !printf => {
                let (v, n) = digits(i, 8, 3);
                i += n;
                (v & 0xff) as u8
            }
            b'0'..=b'7' if printf => {
                let (v, n) = digits(i - 1, 8, 3);
                i += n - 1;
                (v & 0xff) as u8
            }
            _ => {
                out.push(b'\\');
                e
            }
        };
        out.push(byte);
    }
    (super::word::lossy(out), false)
}
