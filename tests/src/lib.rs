//! Test harness shared by the integration tests.
pub mod bench_daemon;
pub mod certs;
pub mod claude;
pub mod fake_model;
pub mod harness;
pub mod mounts;
pub mod otlp;
pub mod pg;
pub mod pty;
