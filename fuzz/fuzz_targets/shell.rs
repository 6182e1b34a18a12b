//! The shell analyser: never panics, stays within its limits, and a command the default packs
//! stop stays stopped when rewritten in ways bash runs the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hookd_fuzz::invariants::check_shell(data));
