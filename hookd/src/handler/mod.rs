//! Request → response: the one place that touches every subsystem.
//!
//! [`handle`] dispatches; each kind of request lives in its own room:
//! - [`hook`](mod@hook): the hook path (the hot path; see its header for the order of steps);
//! - `admin`: status, stats, rules, events, sessions, runs, trust;
//! - [`stream`](mod@stream): `tail` and `export`, answered by many frames;
//! - `upkeep`: rule reloads and spool ingestion.
//!
//! Blocking work (SQLite queries, file reads) runs on tokio's blocking pool, never on an async
//! worker; the hook path's only wait is the store's group commit.

mod admin;
mod hook;
mod stream;
mod upkeep;

use std::sync::Arc;

use hook_protocol::{Request, Response};

pub use admin::{allow, stats};
pub use hook::{hook, hooks};
pub use stream::stream;
pub use upkeep::{ingest_spool, reload, save_last_good};

use crate::state::State;
use crate::store::EventRecord;
use crate::verdict::Source;

/// Answers one request.
pub async fn handle(state: &Arc<State>, req: Request) -> Response {
    match req {
        Request::Hook(h) => Response::Verdict(hook(state, h, Source::Socket).await),
        Request::Status => Response::Status(Box::new(admin::status(state).await)),
        Request::Reload => Response::Reloaded(reload(state).await),
        Request::Events(q) => admin::events(state, q).await,
        Request::Test(h) => Response::Tested(hook::test(state, &h)),
        Request::Rules => Response::Rules(admin::rules(state)),
        Request::Trust(t) => admin::trust(state, t).await,
        Request::Stats => Response::Stats(Box::new(stats(state))),
        Request::Tail(_) | Request::Export(_) => {
            Response::Error("streaming requests are served by the connection".into())
        }
        Request::Sessions(q) => admin::sessions(state, q).await,
        Request::Session(id) => admin::session_report(state, &id).await,
        Request::Runs(q) => admin::runs(state, q).await,
        // The connection passes the peer's pid ([`allow`]); without it nothing is granted.
        Request::Allow(a) => allow(state, a, None).await,
        Request::Statusline(id) => admin::statusline(state, id).await,
        Request::UiLogin => crate::ui::login(state),
        Request::SinkFlush(timeout_ms) => Response::SinkFlushed(
            state
                .fleet
                .flush(std::time::Duration::from_millis(timeout_ms))
                .await,
        ),
        Request::Stop => {
            tracing::info!("stop requested over the socket");
            state.shutdown.cancel();
            Response::Stopping
        }
    }
}

/// Redacts what is about to be stored: the payload and the summary. Rules already saw the
/// event unredacted.
pub(crate) fn redact_record(redactor: &crate::redact::Redactor, rec: EventRecord) -> EventRecord {
    if !redactor.enabled() {
        return rec;
    }
    let (payload, kinds) = redactor.redact_payload(&rec.payload);
    let mut redacted: Vec<String> = kinds.iter().map(|k| (*k).to_string()).collect();
    let payload = payload.into_owned();
    let summary = rec.summary.as_deref().map(|s| {
        let (text, more) = redactor.redact_text(s);
        redacted.extend(more.iter().map(|k| (*k).to_string()));
        text.into_owned()
    });
    redacted.sort();
    redacted.dedup();
    EventRecord {
        payload,
        summary,
        redacted,
        ..rec
    }
}
