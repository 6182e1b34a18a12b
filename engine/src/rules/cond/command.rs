//! Conditions on one simple command: `command` (on its match text), `fact`, `to_terminal`
//! (where its output goes) and `piped_from`.

use super::Conditions;
use super::targets::is_stream_device;
use crate::shell::{self, Analysis, SimpleCommand};

impl Conditions {
    /// `command`, `fact`, `to_terminal` and `piped_from` on simple command `i` (`texts` are
    /// the match texts of the analysis's commands).
    pub(super) fn command_holds(&self, a: &Analysis, i: usize, texts: &[String]) -> bool {
        let (Some(c), Some(text)) = (a.commands.get(i), texts.get(i)) else {
            return false;
        };
        self.command_ok(text)
            && self.facts.as_ref().is_none_or(|f| f.on(c).is_some())
            && self.to_terminal.is_none_or(|w| to_terminal(a, i) == w)
            && self.piped_from.as_ref().is_none_or(|re| {
                let mut up = c.stdin_pipe;
                for _ in 0..TERMINAL_CAP {
                    let Some(u) = up else { return false };
                    if texts.get(u).is_some_and(|t| re.is_match(t)) {
                        return true;
                    }
                    up = a.commands.get(u).and_then(|c| c.stdin_pipe);
                }
                false
            })
    }

    fn command_ok(&self, text: &str) -> bool {
        self.command.as_ref().is_none_or(|re| re.is_match(text))
    }
}

/// The text `command` rules match: the command's text, plus the code or queries it reads on
/// stdin when it is an interpreter or a database client (`python - <<EOF`, `psql <<<…`,
/// `echo 'DROP TABLE t' | psql`).
pub(super) fn match_text(c: &SimpleCommand) -> String {
    let mut text = c.text();
    if let Some(data) = &c.stdin_data
        && shell::code_on_stdin(&c.name)
    {
        text.push(' ');
        text.push_str(data);
    }
    text
}

/// Most simple commands a dump's output is followed through, downstream.
const TERMINAL_CAP: usize = 16;

/// Commands that only filter or page what they read, to their output: no files written, no
/// commands run, no network.
const LOCAL_FILTERS: &[&str] = &[
    "grep", "egrep", "fgrep", "rg", "ag", "sort", "uniq", "head", "tail", "wc", "cut", "tr",
    "less", "more", "column", "nl", "cat", "tac", "fold", "fmt", "comm", "jq", "bat",
];

/// Whether a redirection sends the command's output to a file (not a stream device, not
/// stderr alone).
fn output_to_file(c: &SimpleCommand) -> bool {
    c.redirects.iter().any(|r| {
        matches!(
            r.op.as_str(),
            ">" | ">>" | ">|" | "&>" | "&>>" | "1>" | "1>>"
        ) && !r.target.starts_with('&')
            && !is_stream_device(&r.target)
    })
}

/// Whether the output of simple command `i` reaches only the terminal: it is not in a
/// substitution, not redirected to a file, and every command downstream of it in its
/// pipeline is a local filter ([`LOCAL_FILTERS`]) that does not write a file either.
fn to_terminal(a: &Analysis, i: usize) -> bool {
    let Some(c) = a.commands.get(i) else {
        return false;
    };
    if !matches!(
        c.context,
        shell::Context::TopLevel | shell::Context::ShellBody
    ) || output_to_file(c)
    {
        return false;
    }
    let mut at = i;
    for _ in 0..TERMINAL_CAP {
        let Some((j, next)) = a
            .commands
            .iter()
            .enumerate()
            .skip(at + 1)
            .find(|(_, n)| n.stdin_pipe == Some(at))
        else {
            return true;
        };
        if !LOCAL_FILTERS.contains(&next.name.as_str())
            || !next.wrappers.is_empty()
            || output_to_file(next)
        {
            return false;
        }
        at = j;
    }
    false
}
