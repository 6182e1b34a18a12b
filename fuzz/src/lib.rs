//! The invariants the fuzz targets check: the `hook-invariants` crate (`invariants/`), shared
//! with the normal test suite (`invariants/tests/fuzz_invariants.rs` runs them on the committed
//! corpus and on proptest input).

pub use hook_invariants as invariants;
