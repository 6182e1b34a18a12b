//! Control-message decoding: arbitrary bytes as postcard `Request`, `Response`, `Mismatch` and
//! spool records; whatever decodes must re-encode and decode to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| hookd_fuzz::invariants::check_message(data));
