//! Why a batch did not go in, and what the forwarder does about it: SQLSTATEs classed into
//! retry, reject (bisect) or hold.

use std::io;

use tokio_postgres::error::SqlState;

use super::Outcome;

/// Why a batch did not go in, before it is turned into an [`Outcome`].
#[derive(Debug)]
pub(super) enum Failure {
    /// Settings or local files (password file, CA file): fixing them is an operator's job.
    Config(String),
    /// The TLS layer refused the server (certificate, name): a configuration error too.
    Tls(String),
    /// What PostgreSQL (or the connection to it) said, and what we were doing.
    Pg(&'static str, tokio_postgres::Error),
}

impl Failure {
    pub(super) fn outcome(&self) -> Outcome {
        match self {
            Failure::Config(why) | Failure::Tls(why) => Outcome::Hold { why: why.clone() },
            Failure::Pg(doing, e) => {
                let why = format!("{doing}: {}", describe(e));
                match e.code() {
                    Some(code) => classify(code, why),
                    // No SQLSTATE: the connection failed or broke (refused, reset, closed, a
                    // TLS handshake that did not complete). A certificate that failed
                    // verification is a configuration error; anything else is transient.
                    None if is_certificate_error(e) => Outcome::Hold { why },
                    None => Outcome::Retry { after: None, why },
                }
            }
        }
    }
}

/// PostgreSQL's message with its SQLSTATE, or the I/O error's chain.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut s = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

fn is_certificate_error(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if let Some(tls) = cause.downcast_ref::<rustls::Error>() {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        if let Some(io) = cause.downcast_ref::<io::Error>()
            && let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return matches!(
                tls,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            );
        }
        source = cause.source();
    }
    false
}

/// What to do about a SQLSTATE:
///
/// - **Retry** (the same batch, after a backoff): class 08 (connection exception), 57P01–57P05
///   (server shutting down, cannot connect now, idle timeouts), 57014 (statement cancelled),
///   40001/40P01 (serialization failure, deadlock), 53 (insufficient resources: disk full, out
///   of memory, too many connections), 58 (system I/O error), 55P03 (lock not available),
///   25006 (read-only transaction: a standby during failover), XX (internal error), and any
///   code not listed here.
/// - **Rejected** (the forwarder bisects, a single bad event is counted and skipped): class 22
///   (data exception: bad JSON, a NUL byte in text, out-of-range values), class 23 except
///   23505 (integrity: NOT NULL, check, foreign key), class 54 (program limits: a row too big).
/// - **Hold** (keep every event, back off, report the sink failing): class 28 (invalid
///   authorization: wrong password, no such role, pg_hba refuses), 42501 (insufficient
///   privilege), 3D000 (no such database), 3F000 (no such schema), 42P01 (no such table), the
///   rest of class 42 (a table that does not match the schema), and 23505: a unique violation
///   despite `ON CONFLICT` on the key means another unique index on the table, which no retry
///   or skip can fix without losing data.
#[must_use]
pub fn classify(code: &SqlState, why: String) -> Outcome {
    let c = code.code();
    let class = &c[..2.min(c.len())];
    let retry = Outcome::Retry {
        after: None,
        why: why.clone(),
    };
    match (class, c) {
        (_, "23505") => Outcome::Hold { why },
        ("22" | "23" | "54", _) => Outcome::Rejected { why },
        ("28" | "42" | "3D" | "3F", _) => Outcome::Hold { why },
        _ => retry,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlstates_are_classed() {
        let class = |code: &str| match classify(&SqlState::from_code(code), String::new()) {
            Outcome::Retry { .. } => "retry",
            Outcome::Rejected { .. } => "rejected",
            Outcome::Hold { .. } => "hold",
            other => panic!("{other:?}"),
        };
        for code in [
            "08006", "08001", "57P01", "57P03", "40001", "40P01", "53100", "53300",
        ] {
            assert_eq!(class(code), "retry", "{code}");
        }
        for code in ["22P02", "22021", "23502", "23514", "54000"] {
            assert_eq!(class(code), "rejected", "{code}");
        }
        for code in [
            "28P01", "28000", "42501", "3D000", "42P01", "3F000", "23505",
        ] {
            assert_eq!(class(code), "hold", "{code}");
        }
    }
}
