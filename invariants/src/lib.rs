//! The invariants the fuzz targets check, in one place: the fuzz targets (`fuzz/`) use this
//! crate, and `tests/fuzz_invariants.rs` runs the same checks on the committed fuzz corpus and
//! on proptest inputs in the normal test suite.
//!
//! Each `check_*` function takes raw bytes and panics when an invariant does not hold; a
//! return means every invariant held for that input (most inputs are simply refused).

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use hook_engine::decide;
use hook_engine::event::HookEvent;
use hook_engine::events::{Block, EventSpec, Permission};
use hook_engine::rules::{Ruleset, Source, load, parse_source};
use hook_engine::session::Session;
use hook_engine::shell::{Limits, analyze, analyze_with, render};
use hook_protocol::frame::{
    FrameError, LEN_BYTES, VERSION_BYTES, decode_body, decode_message, encode_frame,
    encode_message, split_version,
};
use hook_protocol::spool::SpoolRecord;
use hook_protocol::{
    ClientOptions, HookEnv, HookReply, HookRequest, MAX_FRAME_LEN, Mismatch, PROTOCOL_VERSION,
    Request, Response, read_frame, tokio_io,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The project directory events are evaluated in.
pub const PROJECT: &str = "/home/user/project";
/// The home directory events are evaluated with.
pub const HOME: &str = "/home/user";
/// A fixed clock (ms since the epoch) so every run is reproducible.
const T0: i64 = 1_700_000_000_000;
/// Events one `check_hook_json` input may carry (split on 0xFF).
const MAX_EVENTS: usize = 8;

/// The built-in packs as a fresh install loads them (no hookd.toml), loaded once.
pub fn default_packs() -> &'static Ruleset {
    static RULES: OnceLock<Ruleset> = OnceLock::new();
    RULES.get_or_init(|| {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let loaded = load(dir.path());
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        loaded.ruleset
    })
}

// ---------------------------------------------------------------------------------------------
// 1. Frames

/// A reader handing out at most `chunk` bytes per read (and never `Pending`).
struct Chunked<'a> {
    data: &'a [u8],
    chunk: usize,
}

impl std::io::Read for Chunked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

impl tokio::io::AsyncRead for Chunked<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = buf.remaining().min(self.chunk).min(self.data.len());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

/// Runs a future whose I/O is always ready (a [`Chunked`] reader) to completion.
fn block_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("a future over an always-ready reader did not complete");
}

/// The error's variant, for comparing the sync and async readers.
fn kind(e: &FrameError) -> String {
    match e {
        FrameError::Truncated { expected, got } => format!("truncated {expected} {got}"),
        FrameError::TooLarge { len, max } => format!("too large {len} {max}"),
        FrameError::TooShort { len } => format!("too short {len}"),
        FrameError::Closed => "closed".into(),
        other => format!("unexpected {other}"),
    }
}

/// The frame limit and read size an input selects with its first byte.
#[must_use]
pub fn frame_params(sel: u8) -> (u32, usize) {
    let max = match sel & 3 {
        0 => MAX_FRAME_LEN,
        1 => 0,
        2 => 16,
        _ => 4096,
    };
    let chunk = usize::from(sel >> 2) + 1;
    (max, chunk)
}

/// Frame decoding. The first byte picks the maximum frame length and the read size; the rest
/// is the stream.
///
/// - the blocking and async readers agree exactly, whatever the read sizes;
/// - a frame is returned only when its announced length is in `VERSION_BYTES..=max` and that
///   many bytes followed the header, and it is exactly those bytes;
/// - every refusal names the right cause (closed, truncated, too large, too short);
/// - a frame that decodes as a message of this version re-encodes to a frame that decodes to
///   the same message, and re-framing the version and body gives back the same bytes.
pub fn check_frame(data: &[u8]) {
    let Some((&sel, stream)) = data.split_first() else {
        return;
    };
    let (max, chunk) = frame_params(sel);
    let sync = read_frame(
        &mut Chunked {
            data: stream,
            chunk,
        },
        max,
    );
    let asynchronous = block_on(tokio_io::read_frame(
        &mut Chunked {
            data: stream,
            chunk,
        },
        max,
    ));
    match (&sync, &asynchronous) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "sync and async readers returned different frames"),
        (Err(a), Err(b)) => assert_eq!(kind(a), kind(b), "sync and async readers disagree"),
        (a, b) => panic!("sync and async readers disagree: {a:?} vs {b:?}"),
    }
    let Some(header) = stream.first_chunk::<LEN_BYTES>() else {
        let expected = if stream.is_empty() {
            "closed".to_string()
        } else {
            format!("truncated {LEN_BYTES} {}", stream.len())
        };
        assert_eq!(sync.as_ref().map_err(kind).err(), Some(expected));
        return;
    };
    let announced = u32::from_be_bytes(*header);
    let after = &stream[LEN_BYTES..];
    match sync {
        Ok(frame) => {
            assert!(announced <= max && announced as usize >= VERSION_BYTES);
            assert_eq!(frame.len(), announced as usize);
            assert_eq!(frame, after[..frame.len()]);
            check_decoded_frame(&frame, &stream[..LEN_BYTES + frame.len()]);
        }
        Err(e) => {
            let expected = if announced > max {
                format!("too large {announced} {max}")
            } else if (announced as usize) < VERSION_BYTES {
                format!("too short {announced}")
            } else {
                format!("truncated {announced} {}", after.len())
            };
            assert_eq!(kind(&e), expected);
        }
    }
}

/// A frame read from `wire`: its parts re-frame to `wire`, and decoded messages round-trip.
fn check_decoded_frame(frame: &[u8], wire: &[u8]) {
    let (version, body) = split_version(frame).expect("a frame holds a version");
    let mut again = Vec::new();
    encode_frame(version, body, &mut again).expect("a read frame is under the maximum");
    assert_eq!(again, wire, "re-framing changed the bytes");
    match decode_message::<Request>(frame) {
        Ok(m) => check_reencodes(&m),
        Err(FrameError::VersionMismatch {
            theirs, body: b, ..
        }) => {
            assert_ne!(theirs, PROTOCOL_VERSION);
            assert_eq!(b, body);
        }
        Err(FrameError::Decode(_)) => {}
        Err(e) => panic!("unexpected decode error {e}"),
    }
    if let Ok(m) = decode_message::<Response>(frame) {
        check_reencodes(&m);
    }
}

/// `m` encodes to a frame that reads back as `m`, and encodes the same way again.
fn check_reencodes<T>(m: &T)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let wire = encode_message(m).expect("a decoded message encodes");
    let frame = read_frame(&mut &wire[..], MAX_FRAME_LEN).expect("an encoded frame reads");
    let back: T = decode_message(&frame).expect("an encoded message decodes");
    assert_eq!(&back, m, "decode(encode(m)) != m");
    assert_eq!(
        encode_message(&back).expect("encodes"),
        wire,
        "encoding is not stable"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Control messages

/// Control-message decoding: the bytes as a postcard body of every message type.
///
/// - decoding never panics (errors are errors);
/// - whatever decodes re-encodes, decodes back to the same value and encodes the same again;
/// - a `Response::Mismatch` is encoded as variant 0 followed by a bare [`Mismatch`], the
///   frozen encoding a peer of any version relies on.
pub fn check_message(data: &[u8]) {
    if let Ok(m) = decode_body::<Request>(data) {
        check_reencodes(&m);
    }
    if let Ok(m) = decode_body::<Response>(data) {
        check_reencodes(&m);
        if let Response::Mismatch(mm) = &m {
            // (postcard also accepts over-long varints, so check the encoding hookd sends.)
            let wire = encode_message(&m).expect("a decoded message encodes");
            let body = &wire[LEN_BYTES + VERSION_BYTES..];
            assert_eq!(body[0], 0, "Mismatch is variant 0");
            let bare: Mismatch = decode_body(&body[1..]).expect("a Mismatch body decodes bare");
            assert_eq!(&bare, mm);
        }
    }
    if let Ok(m) = decode_body::<Mismatch>(data) {
        check_reencodes(&m);
    }
    if let Ok(m) = decode_body::<SpoolRecord>(data) {
        check_reencodes(&m);
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Hook JSON end to end

/// The client options of the `i`th event of an input (varied so fail modes and `--event`
/// hints are covered).
fn options_for(i: usize) -> ClientOptions {
    let (event, fail_mode) = match i % 4 {
        0 => (None, None),
        1 => (None, Some("deny")),
        2 => (Some("PreToolUse"), Some("PreToolUse=deny,ask")),
        _ => (Some("PermissionRequest"), Some("pass")),
    };
    ClientOptions {
        event: event.map(str::to_string),
        fail_mode: fail_mode.map(str::to_string),
        deadline_ms: 2000,
    }
}

/// Hook JSON end to end: the input, split on 0xFF (never in JSON text), is up to eight events
/// of one session, each answered by [`decide::answer`] (the daemon's parse → evaluate →
/// render path) with the default packs, and each reply checked by [`check_reply`].
pub fn check_hook_json(data: &[u8]) {
    let mut session = Session::new("fuzz", T0);
    for (i, payload) in data.split(|&b| b == 0xFF).take(MAX_EVENTS).enumerate() {
        let req = HookRequest {
            event: payload.to_vec(),
            env: HookEnv {
                project_dir: Some(PROJECT.into()),
                session_id: Some("fuzz".into()),
                cwd: None,
            },
            options: options_for(i),
            id: None,
            env_file: None,
        };
        let t = T0 + i64::try_from(i).unwrap_or(0) * 1000;
        let reply = decide::answer(&req, &[default_packs()], Some(&mut session), Some(HOME), t);
        check_reply(&req, &reply);
    }
}

/// A reply is one Claude Code accepts for the event it answers:
///
/// - exit 0 or 2; exit 2 has empty stdout and a reason on stderr;
/// - stdout is empty or exactly one JSON object and a newline;
/// - for a parsed event of a known kind: only the keys that event reads, the permission form
///   the event takes (with only the decisions it accepts), a block only in the form it takes,
///   `additionalContext` only where accepted, `hookEventName` equal to the event, and nothing
///   at all for events whose output is ignored;
/// - for an unknown event: at most a `systemMessage`;
/// - for input hookd refuses: the fail mode reply of the event it names.
pub fn check_reply(req: &HookRequest, reply: &HookReply) {
    assert!(
        reply.exit_code == 0 || reply.exit_code == 2,
        "exit code {}",
        reply.exit_code
    );
    if reply.exit_code == 2 {
        assert!(reply.stdout.is_empty(), "exit 2 with stdout");
        assert!(!reply.stderr.is_empty(), "exit 2 without a reason");
    }
    let out = json_object(&reply.stdout);
    match HookEvent::parse(&req.event, req.options.event.as_deref()) {
        Ok(event) => {
            if reply.exit_code == 0 {
                assert!(reply.stderr.is_empty(), "stderr on exit 0");
            }
            match event.spec {
                Some(spec) => check_known(spec, reply, out.as_ref()),
                None => {
                    assert_eq!(reply.exit_code, 0);
                    if let Some(o) = &out {
                        assert!(
                            o.keys().all(|k| k == "systemMessage"),
                            "unknown event got {o:?}"
                        );
                    }
                }
            }
        }
        Err(e) => {
            let expected = decide::rejected(&e, &req.event, &req.options);
            assert_eq!(&expected.reply, reply, "a refused event gets its fail mode");
            assert!(!reply.stderr.is_empty(), "a refused event says why");
            if let Some(o) = &out
                && let Some(h) = o.get("hookSpecificOutput")
            {
                assert_eq!(h["hookEventName"], Value::from(expected.name.as_str()));
            }
        }
    }
}

/// Stdout as one JSON object (None when empty).
fn json_object(stdout: &[u8]) -> Option<serde_json::Map<String, Value>> {
    if stdout.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(stdout).expect("stdout is UTF-8");
    let line = text.strip_suffix('\n').expect("stdout ends with a newline");
    assert!(!line.contains('\n'), "stdout is one line");
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(o)) => Some(o),
        other => panic!("stdout is not a JSON object: {other:?}: {line}"),
    }
}

fn check_known(spec: &EventSpec, reply: &HookReply, out: Option<&serde_json::Map<String, Value>>) {
    if !spec.output {
        assert!(
            reply.stdout.is_empty() && reply.exit_code == 0,
            "{}",
            spec.name
        );
    }
    if reply.exit_code == 2 {
        assert_eq!(spec.block, Block::Exit2, "{} blocked by exit 2", spec.name);
    }
    let Some(o) = out else { return };
    for k in o.keys() {
        assert!(
            matches!(
                k.as_str(),
                "decision" | "reason" | "hookSpecificOutput" | "systemMessage"
            ),
            "{}: unexpected key {k}",
            spec.name
        );
    }
    if let Some(d) = o.get("decision") {
        assert_eq!(d, "block");
        assert_eq!(spec.block, Block::Json, "{} blocked by JSON", spec.name);
        assert!(o.get("reason").is_some_and(Value::is_string));
    } else {
        assert!(o.get("reason").is_none());
    }
    if let Some(m) = o.get("systemMessage") {
        assert!(m.is_string());
    }
    let Some(h) = o.get("hookSpecificOutput") else {
        return;
    };
    let h = h.as_object().expect("hookSpecificOutput is an object");
    assert_eq!(h.get("hookEventName"), Some(&Value::from(spec.name)));
    assert!(h.len() > 1, "{}: empty hookSpecificOutput", spec.name);
    for (k, v) in h {
        match k.as_str() {
            "hookEventName" => {}
            "permissionDecision" => {
                let Permission::Decision { ask, defer } = spec.permission else {
                    panic!("{} takes no permissionDecision", spec.name);
                };
                let ok = match v.as_str() {
                    Some("allow" | "deny") => true,
                    Some("ask") => ask,
                    Some("defer") => defer,
                    _ => false,
                };
                assert!(ok, "{}: permissionDecision {v}", spec.name);
                assert!(
                    h.get("permissionDecisionReason")
                        .is_some_and(Value::is_string)
                );
            }
            "permissionDecisionReason" => assert!(h.contains_key("permissionDecision")),
            "decision" => {
                assert_eq!(spec.permission, Permission::Behavior, "{}", spec.name);
                assert!(
                    matches!(v["behavior"].as_str(), Some("allow" | "deny")),
                    "{v}"
                );
            }
            "additionalContext" => {
                assert!(spec.context, "{} takes no additionalContext", spec.name);
                assert!(v.is_string());
            }
            other => panic!("{}: unexpected hookSpecificOutput key {other}", spec.name),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 4. The shell analyser

/// The default packs' verdict on a Bash command (through the daemon's evaluation).
#[must_use]
pub fn bash_verdict(command: &str) -> String {
    let v = serde_json::json!({"session_id": "s", "cwd": PROJECT, "hook_event_name": "PreToolUse",
        "tool_name": "Bash", "tool_input": {"command": command}});
    let event = HookEvent::parse(v.to_string().as_bytes(), None).expect("a valid event");
    decide::step(
        &event,
        None,
        decide::Inputs {
            rulesets: &[default_packs()],
            project_dir: Some(PROJECT),
            home: Some(HOME),
            time_ms: T0,
            once: None,
            count_hits: true,
        },
    )
    .verdict()
    .to_string()
}

fn stopped(verdict: &str) -> bool {
    verdict == "deny" || verdict == "ask"
}

/// Rewrites of a command that bash runs the same way, so they must never turn a stopped
/// command into an allowed one: blanks around it, a subshell (for input the analyser parsed
/// fully), `bash -c '…'`, `eval '…'`, and
/// the command fed to a shell on stdin (a heredoc, or `cat` piped into `bash`).
#[must_use]
pub fn equivalents(src: &str) -> Vec<String> {
    let mut v = vec![format!(" {src}"), format!("\t{src}"), format!("{src}\n")];
    // A subshell adds parentheses: the same command only when the analyser found its own
    // balanced (a stray `)` in `src` would close the subshell early).
    if analyze(src).unparsed.is_none() {
        v.push(format!("( {src}\n)"));
    }
    // A body starting with `-` or `+` would be read by bash and eval as options.
    if !src.starts_with(['-', '+']) {
        let quoted = src.replace('\'', r"'\''");
        v.push(format!("bash -c '{quoted}'"));
        v.push(format!("eval '{quoted}'"));
    }
    if !src.contains("HOOKD_EOF") {
        v.push(format!("bash <<'HOOKD_EOF'\n{src}\nHOOKD_EOF"));
        v.push(format!("cat <<'HOOKD_EOF' | bash\n{src}\nHOOKD_EOF"));
    }
    v
}

/// The shell analyser, on the input as text (lossy UTF-8).
///
/// - it never panics, and the commands it reports stay within its limits (default and tight);
/// - input over the size limit is reported as not fully analysed;
/// - rendering the analysis (`hookctl explain`) never panics;
/// - a command the default packs stop (deny or ask) is still stopped when rewritten in the
///   ways of [`equivalents`].
pub fn check_shell(data: &[u8]) {
    let src = String::from_utf8_lossy(data);
    let limits = Limits::default();
    let a = analyze(&src);
    assert!(a.commands.len() <= limits.max_commands);
    assert!(a.commands.iter().all(|c| c.depth <= limits.max_depth));
    let _ = render(&a);
    let tight = Limits {
        max_depth: 3,
        max_commands: 8,
        max_input: 64,
    };
    let t = analyze_with(&src, &tight);
    assert!(t.commands.len() <= tight.max_commands);
    assert!(t.commands.iter().all(|c| c.depth <= tight.max_depth));
    if src.len() > tight.max_input {
        assert!(t.unparsed.is_some(), "over-long input must be reported");
    }
    let verdict = bash_verdict(&src);
    if stopped(&verdict) {
        for variant in equivalents(&src) {
            let v = bash_verdict(&variant);
            assert!(
                stopped(&v),
                "{src:?} is {verdict} but {variant:?} is {v}\n{}",
                render(&analyze(&variant))
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Rule files

/// Events a fuzzed rule file is evaluated against, one session.
const PROBES: &[&str] = &[
    r#"{"hook_event_name":"SessionStart","session_id":"s","source":"startup","cwd":"/home/user/project"}"#,
    r#"{"hook_event_name":"UserPromptSubmit","session_id":"s","prompt":"delete everything","cwd":"/home/user/project"}"#,
    r#"{"hook_event_name":"PreToolUse","session_id":"s","tool_name":"Bash","tool_input":{"command":"rm -rf ~/x && git push --force"},"cwd":"/home/user/project"}"#,
    r#"{"hook_event_name":"PreToolUse","session_id":"s","tool_name":"Write","tool_input":{"file_path":"/etc/passwd","content":"x"},"cwd":"/home/user/project"}"#,
    r#"{"hook_event_name":"PermissionRequest","session_id":"s","tool_name":"Bash","tool_input":{"command":"ls"}}"#,
    r#"{"hook_event_name":"PostToolUse","session_id":"s","tool_name":"Edit","tool_input":{"file_path":"src/a.rs"},"tool_response":{}}"#,
    r#"{"hook_event_name":"Stop","session_id":"s","stop_hook_active":false}"#,
    r#"{"hook_event_name":"PreCompact","session_id":"s","trigger":"auto"}"#,
    r#"{"hook_event_name":"SessionEnd","session_id":"s","reason":"exit"}"#,
    r#"{"hook_event_name":"FutureEvent","session_id":"s"}"#,
];

/// Settings that validated are within the bounds [`hook_engine::settings`] documents.
fn check_settings(s: &hook_engine::settings::Settings) {
    use hook_engine::settings as st;
    // What hookd's store gets (`hookd::daemon::retention`): an age in ms and a size, both > 0.
    let max_age_ms = hook_engine::rules::state::duration_ms(s.store.max_age).unwrap_or(i64::MAX);
    assert!(max_age_ms > 0 && s.store.max_size > 0, "{:?}", s.store);
    assert!(s.store.emergency_journal >= st::MIN_EMERGENCY_JOURNAL);
    assert!((st::MIN_DURATION..=st::MAX_DURATION).contains(&s.store.max_age));
    assert!(s.session.idle_ttl >= std::time::Duration::from_secs(1));
    assert!((1..=st::MAX_MAX_LIVE).contains(&s.session.max_live));
    assert!((1..=st::MAX_CONNECTION_COUNT).contains(&s.server.max_connections));
    assert!(s.http.auth_timeout <= st::MAX_AUTH_TIMEOUT && !s.http.auth_timeout.is_zero());
    assert!(
        s.http
            .listen
            .is_none_or(|a| a.ip().is_loopback() || s.http.allow_non_loopback)
    );
    assert!((1..=st::MAX_MAX_BACKGROUND).contains(&s.run.max_background));
    assert!(s.run.retry_backoff <= st::MAX_RETRY_BACKOFF);
}

/// Rule-file parsing: the input as hookd.toml and as a rules.d file.
///
/// - parsing never panics; a refused file has at least one error, each naming the file;
/// - settings come back for hookd.toml only, within their documented bounds (a bad value is
///   an error, never a default or an out-of-range value), and convert for the store without
///   panicking;
/// - a file that parses compiles into a ruleset whose replies to a session of probe events
///   all pass [`check_reply`] (validation lets through only what rendering can express).
pub fn check_rule_file(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for is_main in [true, false] {
        let source = Source {
            name: "fuzz.toml".into(),
            text: text.to_string(),
            is_main,
        };
        match parse_source(&source) {
            Ok((rules, settings)) => {
                assert_eq!(settings.is_some(), is_main);
                if let Some(s) = &settings {
                    check_settings(s);
                }
                let rs = Ruleset::new(rules, vec![source.name.clone()]);
                let mut session = Session::new("s", T0);
                for (i, probe) in PROBES.iter().enumerate() {
                    let req = HookRequest {
                        event: probe.as_bytes().to_vec(),
                        env: HookEnv {
                            project_dir: Some(PROJECT.into()),
                            ..HookEnv::default()
                        },
                        options: ClientOptions::default(),
                        id: None,
                        env_file: None,
                    };
                    let t = T0 + i64::try_from(i).unwrap_or(0) * 1000;
                    let reply = decide::answer(&req, &[&rs], Some(&mut session), Some(HOME), t);
                    check_reply(&req, &reply);
                }
            }
            Err(errors) => {
                assert!(!errors.is_empty(), "refused without an error");
                for e in &errors {
                    assert!(
                        e.starts_with("fuzz.toml"),
                        "error does not name the file: {e}"
                    );
                }
            }
        }
    }
}
