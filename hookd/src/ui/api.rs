//! The dashboard's JSON views (docs/ui.md has the shapes): the same answers `hookctl` gets
//! (through [`handler::handle`], so the page and the terminal never disagree), plus the
//! charts' series and the refusals grouped by rule, computed from stored rows. Every store read
//! runs on the blocking pool, on the store's read connections: the hook path never waits for
//! the dashboard.

use std::collections::HashMap;
use std::sync::Arc;

use hook_protocol::{EventQuery, EventRow, Request, Response, RunQuery, SessionQuery};
use hyper::StatusCode;
use serde::Serialize;
use serde_json::{Value, json};

use super::series::{Hourly, LatencySeries, Window, verdict_points};
use super::serve::{Reply, json as reply};
use crate::State;
use crate::clock::now_ms;
use crate::handler;
use crate::store::IdRange;

/// Query parameters (`a=1&b=x`), percent-decoded.
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str) -> Self {
        Self(
            query
                .split('&')
                .filter(|kv| !kv.is_empty())
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        )
    }

    /// A non-empty value.
    fn text(&self, key: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    }

    fn int(&self, key: &str, default: i64, min: i64, max: i64) -> i64 {
        self.text(key)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(default)
            .clamp(min, max)
    }

    fn flag(&self, key: &str) -> bool {
        self.text(key).is_some_and(|v| v == "1" || v == "true")
    }
}

/// Percent-decoding (and `+` as a space), lossy on bad UTF-8.
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(x) => {
                        out.push(x);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A view that cannot be answered: its status and why.
struct Fail {
    status: StatusCode,
    message: String,
}

fn error(status: StatusCode, message: &str) -> Fail {
    Fail {
        status,
        message: message.to_string(),
    }
}

/// Runs a blocking read on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, Fail> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e)),
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
    }
}

/// Answers `GET /ui/api/<path>?<query>` for a request with a live session.
pub(super) async fn answer(state: &Arc<State>, path: &str, query: &str) -> Reply {
    let p = Params::parse(query);
    let result = match path {
        "overview" => overview(state).await,
        "latency" => latency(state, &p).await,
        "verdicts" => verdicts(state, &p).await,
        "events" => events(state, &p).await,
        "sessions" => sessions(state, &p).await,
        "denials" => denials(state, &p).await,
        "rules" => rules(state).await,
        "runs" => runs(state, &p).await,
        _ => match path.split_once('/') {
            Some(("events", id)) => event(state, id).await,
            Some(("sessions", id)) if !id.is_empty() => session(state, &decode(id)).await,
            _ => Err(error(StatusCode::NOT_FOUND, "no such view")),
        },
    };
    result.unwrap_or_else(|f| reply(f.status, &json!({ "error": f.message })))
}

type Answer = Result<Reply, Fail>;

fn ok(v: &impl Serialize) -> Answer {
    Ok(reply(StatusCode::OK, v))
}

/// What `handler::handle` answers, or its error as a reply.
async fn ask(state: &Arc<State>, req: Request) -> Result<Response, Fail> {
    match handler::handle(state, req).await {
        Response::Error(e) => Err(error(StatusCode::NOT_FOUND, &e)),
        r => Ok(r),
    }
}

async fn overview(state: &Arc<State>) -> Answer {
    let Response::Status(status) = ask(state, Request::Status).await? else {
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "no status"));
    };
    let stats = handler::stats(state);
    ok(&json!({
        "now_ms": now_ms(),
        // hookd and hookctl show times in UTC; the page does too, and says so.
        "tz_offset_min": 0,
        "sessions_active": status.sessions_active,
        "store_bytes": status.store_bytes,
        "sinks": status.sinks,
        "stats": stats,
        "status": status,
    }))
}

fn window(p: &Params) -> Window {
    Window::new(
        now_ms(),
        p.int("minutes", 60, 1, super::series::MAX_MINUTES),
        p.int("step", 60, 1, 86_400),
    )
}

async fn latency(state: &Arc<State>, p: &Params) -> Answer {
    let w = window(p);
    let st = Arc::clone(state);
    let points = blocking(move || {
        let mut s = LatencySeries::new(w);
        st.store
            .for_each_latency(w.start_ms, |t, l| s.add(t, l))
            .map_err(|e| e.to_string())?;
        Ok(s.points())
    })
    .await?;
    ok(&json!({ "step_s": w.step_ms / 1000, "points": points }))
}

async fn verdicts(state: &Arc<State>, p: &Params) -> Answer {
    let w = window(p);
    let st = Arc::clone(state);
    let rows = blocking(move || {
        st.store
            .verdict_counts(w.start_ms, w.step_ms)
            .map_err(|e| e.to_string())
    })
    .await?;
    ok(&json!({ "step_s": w.step_ms / 1000, "points": verdict_points(&w, &rows) }))
}

async fn events(state: &Arc<State>, p: &Params) -> Answer {
    let q = EventQuery {
        session: p.text("session"),
        event: p.text("event"),
        verdict: p.text("verdict"),
        tool: p.text("tool"),
        rule: p.text("rule"),
        text: p.text("text"),
        ..EventQuery::default()
    };
    let limit = u32::try_from(p.int("limit", 200, 1, 1000)).unwrap_or(200);
    let ids = IdRange {
        after: None,
        before: p.text("before_id").and_then(|v| v.parse().ok()),
    };
    let st = Arc::clone(state);
    let rows = blocking(move || {
        let mut rows = Vec::new();
        st.store
            .for_each_event_in(&q, ids, false, Some(limit), |r| {
                rows.push(r);
                true
            })
            .map_err(|e| e.to_string())?;
        Ok(rows)
    })
    .await?;
    ok(&json!({ "events": rows }))
}

async fn event(state: &Arc<State>, id: &str) -> Answer {
    let Ok(id) = id.parse::<i64>() else {
        return Err(error(StatusCode::NOT_FOUND, "no such event"));
    };
    let st = Arc::clone(state);
    let row = blocking(move || {
        let mut found = None;
        let q = EventQuery {
            with_payload: true,
            ..EventQuery::default()
        };
        let ids = IdRange {
            after: Some(id.saturating_sub(1)),
            before: Some(id.saturating_add(1)),
        };
        st.store
            .for_each_event_in(&q, ids, true, Some(1), |r| {
                found = Some(r);
                false
            })
            .map_err(|e| e.to_string())?;
        Ok(found)
    })
    .await?;
    let Some(row) = row else {
        return Err(error(StatusCode::NOT_FOUND, "no such event"));
    };
    let matched = matched_rules(state, &row).await;
    ok(&json!({ "event": row, "matched": matched }))
}

/// Where the rules an event matched are defined, as the rules loaded now know them.
async fn matched_rules(state: &Arc<State>, row: &EventRow) -> Vec<Value> {
    let Ok(Response::Rules(loaded)) = ask(state, Request::Rules).await else {
        return Vec::new();
    };
    let names = row.rules.clone();
    let found: Vec<(String, Option<String>)> = names
        .iter()
        .map(|n| {
            let source = loaded
                .iter()
                .find(|r| &r.name == n)
                .map(|r| r.source.clone());
            (n.clone(), source)
        })
        .collect();
    let lines = tokio::task::spawn_blocking(move || {
        let mut files = RuleFiles::default();
        found
            .into_iter()
            .map(|(name, source)| {
                let line = source.as_deref().and_then(|s| files.line(s, &name));
                json!({ "name": name, "source": source, "line": line })
            })
            .collect::<Vec<_>>()
    })
    .await;
    lines.unwrap_or_default()
}

/// Rule files read once per answer, to find the line each rule's `[[rule]]` starts on.
#[derive(Default)]
struct RuleFiles(HashMap<String, Option<String>>);

impl RuleFiles {
    /// The line of rule `name` in `source` (a file path, or `project:<dir>` for a project's
    /// `.claude/hookd.toml`); `None` for packs (built in) and rules no longer in their file.
    fn line(&mut self, source: &str, name: &str) -> Option<usize> {
        let path = match source.strip_prefix("project:") {
            Some(dir) => format!("{dir}/.claude/hookd.toml"),
            None if source.starts_with('/') => source.to_string(),
            None => return None,
        };
        let text = self
            .0
            .entry(path.clone())
            .or_insert_with(|| std::fs::read_to_string(&path).ok())
            .as_deref()?;
        let def = crate::rules::rule_definition(text, name)?;
        let at = text.find(&def)?;
        let header = at + def.find("[[rule]]").unwrap_or(0);
        Some(text[..header].matches('\n').count() + 1)
    }
}

async fn sessions(state: &Arc<State>, p: &Params) -> Answer {
    let q = SessionQuery {
        limit: u32::try_from(p.int("limit", 100, 1, 1000)).unwrap_or(100),
        active_only: p.flag("active"),
    };
    let Response::Sessions(rows) = ask(state, Request::Sessions(q)).await? else {
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "no sessions"));
    };
    ok(&json!({ "sessions": rows }))
}

async fn session(state: &Arc<State>, id: &str) -> Answer {
    let Response::Session(report) = ask(state, Request::Session(id.to_string())).await? else {
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "no session"));
    };
    ok(&*report)
}

async fn runs(state: &Arc<State>, p: &Params) -> Answer {
    let q = RunQuery {
        failed_only: p.flag("failed"),
        limit: u32::try_from(p.int("limit", 100, 1, 1000)).unwrap_or(100),
        ..RunQuery::default()
    };
    let Response::Runs(rows) = ask(state, Request::Runs(q)).await? else {
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "no runs"));
    };
    ok(&json!({ "runs": rows }))
}

async fn rules(state: &Arc<State>) -> Answer {
    let Response::Rules(loaded) = ask(state, Request::Rules).await? else {
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "no rules"));
    };
    let errors = state
        .rule_errors
        .lock()
        .map(|e| e.clone())
        .unwrap_or_default();
    let st = Arc::clone(state);
    let rules = blocking(move || {
        let mut hourly = Hourly::new(now_ms());
        st.store
            .for_each_rule_match(hourly.since_ms(), |t, r| hourly.add(t, r))
            .map_err(|e| e.to_string())?;
        let mut files = RuleFiles::default();
        Ok(loaded
            .into_iter()
            .map(|r| {
                json!({
                    "line": files.line(&r.source, &r.name),
                    "hourly": hourly.of(&r.name),
                    "name": r.name,
                    "source": r.source,
                    "event": r.events,
                    "action": r.action,
                    "hits": r.hits,
                    "reason": r.reason,
                })
            })
            .collect::<Vec<_>>())
    })
    .await?;
    ok(&json!({ "rules": rules, "errors": errors }))
}

/// The refusals screen: deny, ask and block events of the window grouped by their deciding
/// rule and verdict, each with its newest examples.
async fn denials(state: &Arc<State>, p: &Params) -> Answer {
    let since = now_ms() - p.int("minutes", 1440, 1, 30 * 1440) * 60_000;
    let st = Arc::clone(state);
    let groups = blocking(move || {
        let now = now_ms();
        let groups = st
            .store
            .refusal_groups(since, 50)
            .map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(groups.len());
        for g in groups {
            let examples = st
                .store
                .refusal_examples(since, g.rule.as_deref(), &g.verdict, 5)
                .map_err(|e| e.to_string())?;
            let examples: Vec<Value> = examples
                .into_iter()
                .map(|e| {
                    let command = e
                        .payload
                        .as_deref()
                        .and_then(|p| serde_json::from_slice::<Value>(p).ok())
                        .filter(|_| e.tool.as_deref() == Some("Bash"))
                        .and_then(|v| {
                            v.pointer("/tool_input/command")
                                .and_then(Value::as_str)
                                .map(str::to_string)
                        });
                    let allow_code = e
                        .reason
                        .as_deref()
                        .and_then(allow_code)
                        .filter(|c| st.allowances.pending(c, now).is_some());
                    json!({
                        "id": e.id,
                        "summary": e.summary,
                        "session_id": e.session_id,
                        "time_ms": e.time_ms,
                        "explain": command.map(|c| format!("hookctl explain {}", shell_quote(&c))),
                        "allow_code": allow_code,
                    })
                })
                .collect();
            out.push(json!({
                "rule": g.rule,
                "verdict": g.verdict,
                "count": g.count,
                "last_ms": g.last_ms,
                "reason": g.reason,
                "examples": examples,
            }));
        }
        Ok(out)
    })
    .await?;
    ok(&json!({ "groups": groups }))
}

/// The allow-once code a refusal's reason ends with (`(allow once: hookctl allow k7f3q)`).
fn allow_code(reason: &str) -> Option<String> {
    const MARK: &str = "(allow once: hookctl allow ";
    let rest = &reason[reason.rfind(MARK)? + MARK.len()..];
    let code = rest.split(')').next()?;
    crate::allow::is_code(code).then(|| code.to_string())
}

/// `s` as one single-quoted shell word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters() {
        let p = Params::parse("text=a%20b+c&limit=5000&verdict=&rule=r%2Fx&bad=%zz%4");
        assert_eq!(p.text("text").as_deref(), Some("a b c"));
        assert_eq!(p.int("limit", 200, 1, 1000), 1000);
        assert_eq!(p.text("verdict"), None, "empty is no filter");
        assert_eq!(p.text("rule").as_deref(), Some("r/x"));
        assert_eq!(p.text("bad").as_deref(), Some("%zz%4"));
        assert_eq!(p.int("minutes", 60, 1, 1440), 60);
        assert_eq!(decode("%e2%9c%93"), "✓");
    }

    #[test]
    fn explain_and_allow_codes() {
        assert_eq!(
            shell_quote("echo 'hi' | rm -rf /"),
            r"'echo '\''hi'\'' | rm -rf /'"
        );
        assert_eq!(
            allow_code("no push (allow once: hookctl allow k7f3q)").as_deref(),
            Some("k7f3q")
        );
        assert_eq!(allow_code("no push"), None);
        assert_eq!(allow_code("(allow once: hookctl allow NOPE!)"), None);
    }

    #[test]
    fn rule_lines_are_found_in_their_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.toml");
        std::fs::write(
            &path,
            "# top\n\n[[rule]]\nname = \"a\"\naction = \"deny\"\n\n# b's comment\n[[rule]]\nname = \"b\"\naction = \"deny\"\n",
        )
        .unwrap();
        let mut f = RuleFiles::default();
        let src = path.display().to_string();
        assert_eq!(f.line(&src, "a"), Some(3));
        assert_eq!(f.line(&src, "b"), Some(8));
        assert_eq!(f.line(&src, "c"), None);
        assert_eq!(f.line("pack:git", "a"), None);
    }
}
