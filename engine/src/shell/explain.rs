//! Human-readable rendering of an [`Analysis`], for `hookctl explain '<cmd>'`: one line per
//! simple command (context, depth, wrappers, assignments, the text rules match, redirections,
//! an excerpt of stdin data, facts), then why the analysis is incomplete, if it is.

use std::fmt::Write as _;

use super::{Analysis, analyze};

/// Longest excerpt of heredoc or here-string data shown.
const EXCERPT: usize = 60;

/// Analyses `src` with default limits and renders the result with [`render`].
#[must_use]
pub fn explain(src: &str) -> String {
    render(&analyze(src))
}

/// Renders `analysis`: one line per simple command, each ending in a newline.
///
/// ```text
/// 1. top-level d0 [sudo > env] FOO=1 | git reset --hard | 2> /dev/null
/// 2. substitution d1 | rm -rf / | stdin: "data…"
/// ```
#[must_use]
pub fn render(analysis: &Analysis) -> String {
    let mut s = String::new();
    for (i, c) in analysis.commands.iter().enumerate() {
        let _ = write!(s, "{}. {} d{}", i + 1, c.context.label(), c.depth);
        if !c.wrappers.is_empty() {
            let _ = write!(s, " [{}]", c.wrappers.join(" > "));
        }
        for a in &c.assignments {
            s.push(' ');
            one_line(&mut s, a, usize::MAX);
        }
        s.push_str(" | ");
        if c.name.is_empty() && c.args.is_empty() {
            s.push_str("(no command)");
        } else {
            one_line(&mut s, &c.text(), usize::MAX);
        }
        if !c.redirects.is_empty() {
            s.push_str(" |");
            for r in &c.redirects {
                let _ = write!(s, " {}", r.op);
                if r.op.ends_with("<<") || r.op.ends_with("<<-") {
                    let _ = write!(s, "[{} lines]", r.target.lines().count());
                } else {
                    s.push(' ');
                    one_line(&mut s, &r.target, EXCERPT);
                }
            }
        }
        if let Some(d) = &c.stdin_data {
            s.push_str(" | stdin: \"");
            one_line(&mut s, d, EXCERPT);
            s.push('"');
        }
        for f in &c.facts {
            let _ = write!(s, " | {}: ", f.kind.as_str());
            one_line(&mut s, &f.detail, usize::MAX);
        }
        s.push('\n');
    }
    if analysis.commands.is_empty() {
        s.push_str("(no commands)\n");
    }
    if let Some(r) = &analysis.unparsed {
        let _ = writeln!(s, "unparsed: {r}");
    }
    s
}

/// Appends `text` with control characters escaped, cut after `max` characters.
fn one_line(out: &mut String, text: &str, max: usize) {
    for (n, ch) in text.chars().enumerate() {
        if n == max {
            out.push('…');
            return;
        }
        match ch {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
}
