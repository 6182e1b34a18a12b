//! Claude Code's matcher semantics (docs/claude-code-hooks.md), for the `tool` condition.
//!
//! 1. Absent, `""`, `"*"` or `".*"`: everything matches.
//! 2. Only `[A-Za-z0-9_|]`, `,`, space and `-`: a list of exact, case-sensitive names split on
//!    `|` or `,`.
//! 3. Anything else: an unanchored regex.

use regex::Regex;

/// A compiled matcher.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// Matches everything.
    Any,
    /// Exact names.
    Names(Vec<String>),
    /// An unanchored regex.
    Regex(Regex),
}

impl Matcher {
    /// Compiles a matcher string.
    ///
    /// # Errors
    ///
    /// The regex error, for a matcher that is neither a wildcard nor a list of names.
    pub fn new(s: &str) -> Result<Self, regex::Error> {
        if matches!(s, "" | "*" | ".*") {
            return Ok(Self::Any);
        }
        let is_list = s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '|' | ',' | ' ' | '-'));
        if is_list {
            let names = s
                .split(['|', ','])
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map(str::to_string)
                .collect();
            return Ok(Self::Names(names));
        }
        Regex::new(s).map(Self::Regex)
    }

    /// Whether `value` matches; a missing value matches only [`Matcher::Any`].
    #[must_use]
    pub fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Self::Any, _) => true,
            (_, None) => false,
            (Self::Names(names), Some(v)) => names.iter().any(|n| n == v),
            (Self::Regex(re), Some(v)) => re.is_match(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_code_cases() {
        let cases: &[(&str, &str, bool)] = &[
            ("Bash", "Bash", true),
            ("Read|Bash", "Bash", true),
            ("Read, Bash", "Bash", true),
            ("bash", "Bash", false),
            ("Ba", "Bash", false),
            ("Bas", "Bash", false),
            ("B.*", "Bash", true),
            ("^Bash$", "Bash", true),
            ("(Bash)", "Bash", true),
            ("Bash(echo *)", "Bash", false),
            ("*", "Anything", true),
            ("", "Anything", true),
            (".*", "Anything", true),
            ("mcp__github__.*", "mcp__github__create_issue", true),
            (
                "mcp__github__create_issue",
                "mcp__github__create_issue",
                true,
            ),
            ("Edit|Write", "MultiEdit", false),
        ];
        for (m, v, want) in cases {
            assert_eq!(
                Matcher::new(m).unwrap().matches(Some(v)),
                *want,
                "{m} vs {v}"
            );
        }
    }
}
