//! The invariants the fuzz targets check, shared with hookd's normal test suite
//! (`hookd/tests/fuzz_invariants.rs` runs them on the committed corpus and on proptest input).

#[path = "../../hookd/tests/invariants/mod.rs"]
pub mod invariants;
