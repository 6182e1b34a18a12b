//! hook-client's hand-written encoding ([`hook_protocol_core::wire`]) against serde and
//! postcard's, which hookd uses: the same bytes for every request and spool record, the same
//! values from every response, and no panic on any input. This is what keeps the client and
//! the daemon agreeing.

use hook_protocol_core::wire::{self, Answer, Malformed};

use crate::frame::{encode_frame, encode_message};
use crate::message::*;
use crate::spool::{SPOOL_VERSION, SpoolRecord};

/// SplitMix64: deterministic, so a failure repeats.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }

    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.below(from.len())]
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    /// A length around the varint boundaries, or a small random one.
    fn len(&mut self, big: bool) -> usize {
        let mut lens = vec![0, 1, 2, 127, 128, 129, 16_383, 16_384];
        if big {
            lens.push(300_000);
        }
        if self.coin() {
            self.pick(&lens)
        } else {
            self.below(200)
        }
    }

    /// Bytes of `len`, any value.
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// A string of exactly `len` bytes, mixing one- to four-byte characters.
    fn string(&mut self, len: usize) -> String {
        const CHARS: [char; 10] = [
            'a', 'Z', '\0', '"', '\u{7f}', '\u{80}', 'é', '€', '\u{ffff}', '😀',
        ];
        let mut s = String::with_capacity(len);
        while s.len() < len {
            let c = self.pick(&CHARS);
            s.push(if s.len() + c.len_utf8() <= len {
                c
            } else {
                'x'
            });
        }
        s
    }

    fn small_bytes(&mut self) -> Vec<u8> {
        let len = self.below(6);
        self.bytes(len)
    }

    fn small_string(&mut self) -> String {
        let len = self.below(6);
        self.string(len)
    }

    fn opt_string(&mut self) -> Option<String> {
        self.coin().then(|| {
            let len = self.len(false);
            self.string(len)
        })
    }

    fn u32(&mut self) -> u32 {
        let edges = [0, 1, 127, 128, 16_383, 16_384, u32::MAX - 1, u32::MAX];
        if self.coin() {
            self.pick(&edges)
        } else {
            self.next() as u32 >> self.below(32)
        }
    }

    fn u64(&mut self) -> u64 {
        let edges = [
            0,
            1,
            127,
            128,
            u64::from(u32::MAX),
            u64::from(u32::MAX) + 1,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
        ];
        if self.coin() {
            self.pick(&edges)
        } else {
            self.next() >> self.below(64)
        }
    }

    fn i32(&mut self) -> i32 {
        let edges = [0, 1, 2, -1, -2, 63, 64, -64, -65, i32::MIN, i32::MAX];
        if self.coin() {
            self.pick(&edges)
        } else {
            (self.next() as i32) >> self.below(32)
        }
    }

    fn env(&mut self) -> HookEnv {
        HookEnv {
            project_dir: self.opt_string(),
            session_id: self.opt_string(),
            cwd: self.opt_string(),
        }
    }

    fn hook_request(&mut self, big: bool) -> HookRequest {
        let len = self.len(big);
        HookRequest {
            event: self.bytes(len),
            env: self.env(),
            options: ClientOptions {
                event: self.opt_string(),
                fail_mode: self.opt_string(),
                deadline_ms: self.u32(),
            },
            id: self.opt_string(),
            env_file: self.opt_string(),
        }
    }

    fn spool_record(&mut self, big: bool) -> SpoolRecord {
        let lens = [
            self.len(false),
            self.len(false),
            self.len(false),
            self.len(big),
        ];
        SpoolRecord {
            id: self.string(lens[0]),
            time_ms: self.u64(),
            reason: self.string(lens[1]),
            answered: self.string(lens[2]),
            event: self.bytes(lens[3]),
            truncated_from: self.coin().then(|| self.u64()),
            env: self.env(),
        }
    }

    fn reply(&mut self, big: bool) -> HookReply {
        let lens = [self.len(big), self.len(false)];
        HookReply {
            exit_code: self.i32(),
            stdout: self.bytes(lens[0]),
            stderr: self.bytes(lens[1]),
        }
    }

    fn mismatch(&mut self) -> Mismatch {
        let len = self.len(false);
        Mismatch {
            daemon_protocol: self.u32(),
            daemon_version: self.string(len),
            peer_protocol: self.u32(),
        }
    }
}

/// Only a few values carry the ~300 KB lengths, to keep the tests fast.
fn big(i: usize) -> bool {
    i.is_multiple_of(50)
}

#[test]
fn hook_requests_encode_as_serde_does() {
    let mut rng = Rng(1);
    for i in 0..600 {
        let req = rng.hook_request(big(i));
        let ours = wire::encode_hook_request(&(&req).into()).unwrap();
        let serde = encode_message(&Request::Hook(req.clone())).unwrap();
        assert!(ours == serde, "request {i} differs: {req:?}");
    }
    let empty = HookRequest::default();
    assert_eq!(
        wire::encode_hook_request(&(&empty).into()).unwrap(),
        encode_message(&Request::Hook(empty)).unwrap()
    );
}

#[test]
fn spool_records_encode_as_serde_does() {
    let mut rng = Rng(2);
    for i in 0..600 {
        let rec = rng.spool_record(big(i));
        let ours = wire::encode_spool_record(&(&rec).into()).unwrap();
        let mut serde = Vec::new();
        encode_frame(
            SPOOL_VERSION,
            &postcard::to_allocvec(&rec).unwrap(),
            &mut serde,
        )
        .unwrap();
        assert!(ours == serde, "record {i} differs: {rec:?}");
    }
}

#[test]
fn a_request_over_the_maximum_is_refused_as_serde_refuses_it() {
    let req = HookRequest {
        event: vec![0; crate::MAX_FRAME_LEN as usize],
        ..HookRequest::default()
    };
    let e = wire::encode_hook_request(&(&req).into()).unwrap_err();
    let serde = encode_message(&Request::Hook(req)).unwrap_err();
    assert_eq!(e.to_string(), serde.to_string());
}

/// What core's decoder should give for a response serde decoded.
fn expected(r: &Response) -> Answer {
    match r {
        Response::Mismatch(m) => Answer::Mismatch(wire::Mismatch {
            daemon_protocol: m.daemon_protocol,
            daemon_version: m.daemon_version.clone(),
            peer_protocol: m.peer_protocol,
        }),
        Response::Verdict(v) => Answer::Verdict(hook_protocol_core::Reply {
            exit_code: v.exit_code,
            stdout: v.stdout.clone(),
            stderr: v.stderr.clone(),
        }),
        Response::Error(e) => Answer::Error(e.clone()),
        other => Answer::Other(variant_index(other)),
    }
}

/// A response's variant index, as serde writes it (postcard's first byte, under 128).
fn variant_index(r: &Response) -> u32 {
    u32::from(postcard::to_allocvec(r).unwrap()[0])
}

/// Core and serde agree on `body`: the same value for Mismatch, Verdict and Error, the same
/// variant index for the others, and an error from one only where the other fails too.
/// Returns whether a Mismatch, Verdict or Error was decoded.
fn agree(body: &[u8]) -> bool {
    let ours = wire::decode_answer(body);
    match postcard::from_bytes::<Response>(body) {
        Ok(r) => assert_eq!(ours, Ok(expected(&r)), "{body:?}"),
        // A response variant hook-client does not decode may be malformed past its index.
        Err(_) => assert!(
            !matches!(
                ours,
                Ok(Answer::Mismatch(_) | Answer::Verdict(_) | Answer::Error(_))
            ),
            "core decoded what serde refused: {body:?} -> {ours:?}"
        ),
    }
    matches!(
        ours,
        Ok(Answer::Mismatch(_) | Answer::Verdict(_) | Answer::Error(_))
    )
}

fn other_responses() -> Vec<Response> {
    vec![
        Response::Status(Box::default()),
        Response::Reloaded(ReloadReport::default()),
        Response::Events(vec![EventRow::default()]),
        Response::Stopping,
        Response::Tested(TestReport::default()),
        Response::Rules(vec![]),
        Response::Trusted(TrustReport::default()),
        Response::Live(EventRow::default()),
        Response::End,
        Response::Stats(Box::default()),
        Response::Sessions(vec![]),
        Response::Session(Box::default()),
        Response::Runs(vec![]),
        Response::Allowances(vec![]),
        Response::Statusline(StatuslineReport::default()),
        Response::UiLogin(UiLogin::default()),
        Response::SinkFlushed(vec![]),
    ]
}

#[test]
fn responses_decode_as_serde_decodes_them() {
    let mut rng = Rng(3);
    let mut responses = other_responses();
    for i in 0..600 {
        responses.push(match i % 3 {
            0 => Response::Verdict(rng.reply(big(i))),
            1 => Response::Mismatch(rng.mismatch()),
            _ => {
                let len = rng.len(big(i));
                Response::Error(rng.string(len))
            }
        });
    }
    for r in &responses {
        let mut body = postcard::to_allocvec(r).unwrap();
        let want = expected(r);
        assert_eq!(wire::decode_answer(&body).as_ref(), Ok(&want), "{r:?}");
        // Trailing bytes are ignored, as serde ignores them.
        body.extend_from_slice(&[0xff, 0, 1]);
        assert_eq!(wire::decode_answer(&body), Ok(want));
    }
    // The indices core knows are serde's.
    assert_eq!(variant_index(&Response::Mismatch(rng.mismatch())), 0);
    assert_eq!(variant_index(&Response::Verdict(HookReply::default())), 1);
    assert_eq!(variant_index(&Response::Error(String::new())), 6);
    // And the conversions back to hook-protocol's types are whole.
    let reply = rng.reply(false);
    let Ok(Answer::Verdict(r)) =
        wire::decode_answer(&postcard::to_allocvec(&Response::Verdict(reply.clone())).unwrap())
    else {
        panic!("not a verdict");
    };
    assert_eq!(HookReply::from(r), reply);
    let m = rng.mismatch();
    let Ok(Answer::Mismatch(w)) =
        wire::decode_answer(&postcard::to_allocvec(&Response::Mismatch(m.clone())).unwrap())
    else {
        panic!("not a mismatch");
    };
    assert_eq!(w.describe(3), m.describe(3));
    assert_eq!(Mismatch::from(w), m);
}

#[test]
fn every_truncation_is_an_error_or_agrees_with_serde() {
    let mut rng = Rng(4);
    let mut responses = other_responses();
    for i in 0..60 {
        responses.push(Response::Verdict(rng.reply(false)));
        responses.push(Response::Mismatch(rng.mismatch()));
        let len = rng.len(false);
        responses.push(Response::Error(rng.string(len)));
        // Lengths whose varints take two and three bytes.
        let n = [127, 128, 16_384][i % 3];
        responses.push(Response::Verdict(HookReply {
            exit_code: i32::MIN,
            stdout: vec![b'o'; n],
            stderr: vec![b'e'; 1],
        }));
    }
    for r in &responses {
        let body = postcard::to_allocvec(r).unwrap();
        for cut in 0..body.len() {
            let _ = agree(&body[..cut]);
            if matches!(
                r,
                Response::Verdict(_) | Response::Mismatch(_) | Response::Error(_)
            ) {
                assert_eq!(
                    wire::decode_answer(&body[..cut]),
                    Err(Malformed::Truncated),
                    "{r:?} cut at {cut}"
                );
            }
        }
    }
}

#[test]
fn random_bytes_decode_without_panicking_and_as_serde_does() {
    let mut rng = Rng(5);
    let mut decoded = 0;
    for i in 0..20_000 {
        let body = if i % 2 == 0 {
            // Random bytes, mostly starting with a variant core decodes.
            let len = rng.below(24);
            let mut body = rng.bytes(len);
            if let Some(first) = body.first_mut() {
                *first = rng.pick(&[0, 1, 6, 0x80, 0xff, *first]);
            }
            body
        } else {
            // A small valid response with a few bytes changed, inserted or removed: mostly
            // near misses, some still whole values.
            let r = match rng.below(4) {
                0 => Response::Mismatch(rng.mismatch()),
                1 => Response::Error(rng.small_string()),
                _ => Response::Verdict(HookReply {
                    exit_code: rng.i32(),
                    stdout: rng.small_bytes(),
                    stderr: rng.small_bytes(),
                }),
            };
            let mut body = postcard::to_allocvec(&r).unwrap();
            for _ in 0..=rng.below(3) {
                let at = rng.below(body.len() + 1);
                let b = rng.pick(&[
                    0, 1, 2, 3, 6, 0x0f, 0x10, 0x7f, 0x80, 0xc3, 0xe2, 0xf0, 0xff,
                ]);
                match rng.below(3) {
                    0 if at < body.len() => body[at] = b,
                    1 => body.insert(at, b),
                    _ if at < body.len() => {
                        body.remove(at);
                    }
                    _ => {}
                }
            }
            body
        };
        decoded += usize::from(agree(&body));
    }
    // Enough of them were whole values for the comparison to mean something.
    assert!(decoded > 1_500, "{decoded} decoded");
    // Overlong and overflowing varints, in each place one can be.
    for body in [
        &[0x80, 0x80, 0x80, 0x80, 0x80, 0x00][..],
        &[0xff, 0xff, 0xff, 0xff, 0x1f],
        &[0x80, 0x00],
        &[1, 0xff, 0xff, 0xff, 0xff, 0x10, 0, 0],
        &[
            1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
        ],
        &[
            1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02,
        ],
        &[
            1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0,
        ],
        &[6, 0x81, 0x00, b'a'],
        &[6, 0x80, 0x00],
        &[0, 0x80, 0x80, 0x80, 0x80, 0x0f, 0, 0],
    ] {
        let _ = agree(body);
    }
}
