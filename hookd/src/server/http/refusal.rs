//! Requests the HTTP listener refuses without evaluating them, and connections it closes
//! before they showed the token: why (the `reason` labels of the listener's own Prometheus
//! counters), how many, and a bound on how many are logged.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::StatusCode;

/// At most this many refusals are logged per [`LOG_WINDOW`]; the rest are counted.
const LOG_BURST: u32 = 20;
const LOG_WINDOW: Duration = Duration::from_secs(60);

/// Why a request was refused without evaluation (the `reason` label of
/// `hookd_http_refused_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refusal {
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    TooLarge,
    UnsupportedEncoding,
    BadBody,
    /// The right token, but the pool of authenticated connections is full.
    Busy,
}

impl Refusal {
    pub(super) const ALL: [Self; 8] = [
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotFound,
        Self::MethodNotAllowed,
        Self::TooLarge,
        Self::UnsupportedEncoding,
        Self::BadBody,
        Self::Busy,
    ];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "missing_token",
            Self::Forbidden => "wrong_token",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge => "too_large",
            Self::UnsupportedEncoding => "unsupported_encoding",
            Self::BadBody => "bad_body",
            Self::Busy => "busy",
        }
    }

    pub(super) fn status(self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedEncoding => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BadBody => StatusCode::BAD_REQUEST,
            Self::Busy => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

/// Why a connection was closed before it presented the token (the `reason` label of
/// `hookd_http_unauthenticated_closed_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unproven {
    /// No request with the token within `auth_timeout`.
    Timeout,
    /// Shed to make room for a newer connection (`max_unauthenticated`).
    Shed,
}

impl Unproven {
    pub(super) const ALL: [Self; 2] = [Self::Timeout, Self::Shed];

    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Timeout => "timeout",
            Self::Shed => "shed",
        }
    }
}

/// The HTTP listener's own counters (events, verdicts and latencies are in
/// [`crate::metrics`], shared with the socket path).
#[derive(Default)]
pub(super) struct Counters {
    pub(super) connections: AtomicU64,
    pub(super) hook_requests: AtomicU64,
    pub(super) refused: [AtomicU64; Refusal::ALL.len()],
    pub(super) unproven: [AtomicU64; Unproven::ALL.len()],
}

impl Counters {
    pub(super) fn refuse(&self, r: Refusal) {
        self.refused[r as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// `open`: the connections held now, (authenticated, not yet).
    pub(super) fn prometheus(&self, out: &mut String, open: (usize, usize)) {
        use std::fmt::Write as _;
        let _ = writeln!(
            out,
            "# HELP hookd_http_connections_total TCP connections accepted by the HTTP listener.\n\
             # TYPE hookd_http_connections_total counter\n\
             hookd_http_connections_total {}\n\
             # HELP hookd_http_hook_requests_total POST /hook requests evaluated.\n\
             # TYPE hookd_http_hook_requests_total counter\n\
             hookd_http_hook_requests_total {}\n\
             # HELP hookd_http_refused_total HTTP requests refused without evaluation, by reason.\n\
             # TYPE hookd_http_refused_total counter",
            self.connections.load(Ordering::Relaxed),
            self.hook_requests.load(Ordering::Relaxed),
        );
        for r in Refusal::ALL {
            let _ = writeln!(
                out,
                "hookd_http_refused_total{{reason=\"{}\"}} {}",
                r.as_str(),
                self.refused[r as usize].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP hookd_http_unauthenticated_closed_total Connections closed before a request \
             with the token: no such request within auth_timeout, or shed for a newer one.\n\
             # TYPE hookd_http_unauthenticated_closed_total counter"
        );
        for u in Unproven::ALL {
            let _ = writeln!(
                out,
                "hookd_http_unauthenticated_closed_total{{reason=\"{}\"}} {}",
                u.as_str(),
                self.unproven[u as usize].load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP hookd_http_connections_open HTTP connections held now, by whether a request \
             on them has carried the token.\n\
             # TYPE hookd_http_connections_open gauge\n\
             hookd_http_connections_open{{state=\"authenticated\"}} {}\n\
             hookd_http_connections_open{{state=\"unauthenticated\"}} {}",
            open.0, open.1
        );
    }
}

/// Bounds refusal warnings: a local process hammering the port must not flood the log.
#[derive(Default)]
pub(crate) struct LogLimit {
    window: Option<Instant>,
    logged: u32,
    suppressed: u64,
}

impl LogLimit {
    /// Whether to log now, and how many were suppressed since the last logged one.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<u64> {
        if self
            .window
            .is_none_or(|w| now.duration_since(w) >= LOG_WINDOW)
        {
            self.window = Some(now);
            self.logged = 0;
        }
        if self.logged < LOG_BURST {
            self.logged += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed += 1;
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_logging_is_bounded() {
        let mut l = LogLimit::default();
        let t0 = Instant::now();
        for _ in 0..LOG_BURST {
            assert_eq!(l.admit(t0), Some(0));
        }
        assert_eq!(l.admit(t0), None);
        assert_eq!(l.admit(t0), None);
        assert_eq!(l.admit(t0 + LOG_WINDOW), Some(2));
    }

    #[test]
    fn counters_render_as_prometheus() {
        let c = Counters::default();
        c.refuse(Refusal::Forbidden);
        c.refuse(Refusal::Forbidden);
        c.unproven[Unproven::Shed as usize].fetch_add(3, Ordering::Relaxed);
        let mut out = String::new();
        c.prometheus(&mut out, (2, 5));
        assert!(
            out.contains("hookd_http_refused_total{reason=\"wrong_token\"} 2\n"),
            "{out}"
        );
        assert!(out.contains("hookd_http_refused_total{reason=\"missing_token\"} 0\n"));
        assert!(out.contains("hookd_http_refused_total{reason=\"busy\"} 0\n"));
        assert!(out.contains("hookd_http_unauthenticated_closed_total{reason=\"shed\"} 3\n"));
        assert!(out.contains("hookd_http_unauthenticated_closed_total{reason=\"timeout\"} 0\n"));
        assert!(out.contains("hookd_http_connections_open{state=\"authenticated\"} 2\n"));
        assert!(out.contains("hookd_http_connections_open{state=\"unauthenticated\"} 5\n"));
        for line in out.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }
}
