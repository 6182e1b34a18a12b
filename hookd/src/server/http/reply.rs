//! What the HTTP listener says: the route of a request path, JSON responses, and a hook reply
//! translated to what Claude Code honours over HTTP ([`http_body`]).

use hook_protocol::HookReply;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{self, HeaderValue};
use hyper::{Response, StatusCode};

pub(super) type Reply = Response<Full<Bytes>>;

/// A route, from the request path.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Route {
    /// `/hook` or `/hook/<Event>`.
    Hook(Option<String>),
    Health,
    Metrics,
    NotFound,
}

pub(super) fn route(path: &str) -> Route {
    match path {
        "/hook" | "/hook/" => Route::Hook(None),
        "/health" => Route::Health,
        "/metrics" => Route::Metrics,
        _ => match path.strip_prefix("/hook/") {
            Some(name)
                if (1..=64).contains(&name.len())
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                Route::Hook(Some(name.to_string()))
            }
            _ => Route::NotFound,
        },
    }
}

pub(super) fn json_response(status: StatusCode, v: &serde_json::Value) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(
        serde_json::to_vec(v).unwrap_or_default(),
    )));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The HTTP body for a hook reply: what Claude Code would read from a command hook's stdout,
/// with the trailing newline trimmed (empty = no decision). HTTP has no exit code, so an exit-2
/// reply (a block carried on stderr) becomes the legacy `{"decision":"block","reason":…}`.
#[must_use]
pub fn http_body(reply: &HookReply) -> Vec<u8> {
    if reply.exit_code == 2 {
        let stderr = String::from_utf8_lossy(&reply.stderr);
        let reason = match stderr.trim() {
            "" => "blocked by hookd",
            r => r,
        };
        return serde_json::to_vec(&serde_json::json!({"decision": "block", "reason": reason}))
            .unwrap_or_default();
    }
    reply.stdout.trim_ascii_end().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(route("/hook"), Route::Hook(None));
        assert_eq!(route("/hook/"), Route::Hook(None));
        assert_eq!(
            route("/hook/PreToolUse"),
            Route::Hook(Some("PreToolUse".into()))
        );
        assert_eq!(route("/hook/Pre/ToolUse"), Route::NotFound);
        assert_eq!(route("/hook/%41"), Route::NotFound);
        assert_eq!(route("/health"), Route::Health);
        assert_eq!(route("/metrics"), Route::Metrics);
        assert_eq!(route("/"), Route::NotFound);
        assert_eq!(route("/hooks"), Route::NotFound);
    }

    #[test]
    fn replies_translate_to_http_bodies() {
        let json = HookReply {
            exit_code: 0,
            stdout: b"{\"a\":1}\n".to_vec(),
            stderr: Vec::new(),
        };
        assert_eq!(http_body(&json), b"{\"a\":1}");
        assert!(http_body(&HookReply::default()).is_empty());
        let exit2 = HookReply {
            exit_code: 2,
            stdout: Vec::new(),
            stderr: b"run the \"tests\" first\n".to_vec(),
        };
        let v: serde_json::Value = serde_json::from_slice(&http_body(&exit2)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"decision": "block", "reason": "run the \"tests\" first"})
        );
        let bare = HookReply {
            exit_code: 2,
            ..HookReply::default()
        };
        let v: serde_json::Value = serde_json::from_slice(&http_body(&bare)).unwrap();
        assert_eq!(v["decision"], "block");
        assert_eq!(v["reason"], "blocked by hookd");
    }
}
