//! Rule-file parsing: arbitrary text as hookd.toml and as a rules.d file; errors are errors,
//! and whatever compiles answers a session of probe events with valid replies.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hookd_fuzz::invariants::check_rule_file(data));
