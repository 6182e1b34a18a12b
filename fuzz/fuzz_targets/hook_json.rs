//! Hook JSON end to end: event bytes in, through hookd's parse → evaluate → render path with
//! the default packs, reply out; the reply must be one Claude Code accepts for the event.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hookd_fuzz::invariants::check_hook_json(data));
