//! Event filters shared by `events`, `tail` and `export`.

use anyhow::anyhow;
use hook_protocol::EventQuery;

use crate::format;

/// Which events to show
#[derive(Debug, Clone, clap::Args)]
pub struct Filters {
    /// Only this session id
    #[arg(long)]
    pub session: Option<String>,
    /// Only this event name (e.g. PreToolUse)
    #[arg(long)]
    pub event: Option<String>,
    /// Only this tool (e.g. Bash)
    #[arg(long)]
    pub tool: Option<String>,
    /// Only verdicts starting with this (deny, ask, block, fallback:, error:, …)
    #[arg(long)]
    pub verdict: Option<String>,
    /// Only events this rule matched
    #[arg(long)]
    pub rule: Option<String>,
    /// Only events of this project directory
    #[arg(long)]
    pub project: Option<String>,
    /// Only events since this time: a duration ago (30m, 1h30m, 2d; a bare number is seconds), or RFC 3339
    #[arg(long)]
    pub since: Option<String>,
    /// Only events before this time: a duration ago (30m, 1h30m, 2d; a bare number is seconds), or RFC 3339
    #[arg(long)]
    pub until: Option<String>,
    /// Only events whose (redacted) payload contains this text
    #[arg(long)]
    pub text: Option<String>,
}

impl Filters {
    /// The query these filters describe.
    ///
    /// # Errors
    ///
    /// A bad time.
    pub fn query(&self, limit: u32, with_payload: bool) -> anyhow::Result<EventQuery> {
        let now = format::now_ms();
        let time = |t: &Option<String>| {
            t.as_deref()
                .map(|s| format::parse_time(s, now))
                .transpose()
                .map_err(|e| anyhow!(e))
        };
        Ok(EventQuery {
            session: self.session.clone(),
            event: self.event.clone(),
            verdict: self.verdict.clone(),
            tool: self.tool.clone(),
            rule: self.rule.clone(),
            project: self.project.clone(),
            since_ms: time(&self.since)?,
            until_ms: time(&self.until)?,
            text: self.text.clone(),
            limit,
            with_payload,
        })
    }
}
