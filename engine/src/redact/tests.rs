//! Tests for the redaction module: every kind in every context, false positives, config,
//! and property tests (no panics, idempotence, streaming JSON == `redact_value`, prefilter
//! soundness).

use std::borrow::Cow;

use proptest::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};

use super::*;

/// The default redactor, compiled once for all tests.
fn r() -> &'static Redactor {
    static R: std::sync::LazyLock<Redactor> = std::sync::LazyLock::new(Redactor::default);
    &R
}

/// `(kind, text containing a secret, the secret substring)`.
const SEEDS: &[(&str, &str, &str)] = &[
    (
        "private_key",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA7bq9Xy\nabcDEF==\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEA7bq9Xy",
    ),
    (
        "private_key",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAA\n(truncated",
        "b3BlbnNzaC1rZXktdjEAAAA",
    ),
    (
        "private_key",
        "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0B\n-----END PRIVATE KEY-----",
        "MIIEvQIBADANBgkqhkiG9w0B",
    ),
    (
        "url_credentials",
        "postgres://admin:s3cr3tPass@db.example.com:5432/app",
        "s3cr3tPass",
    ),
    (
        "url_credentials",
        "redis://:p4ssw0rd@localhost:6379",
        "p4ssw0rd",
    ),
    (
        "jwt",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    ),
    (
        "anthropic_key",
        "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_abcd",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    ),
    (
        "openai_key",
        "sk-proj-AbCdEfGhIjKlMnOpQrStUvWx1234",
        "AbCdEfGhIjKlMnOpQrStUvWx1234",
    ),
    (
        "openai_key",
        "sk-AbCdEfGhIjKlMnOpQrSt1234567890abcdefghijklmn",
        "AbCdEfGhIjKlMnOpQrSt1234567890",
    ),
    (
        "github_token",
        "ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    ),
    (
        "github_token",
        "gho_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    ),
    (
        "github_token",
        "github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTU",
        "11ABCDEFG0123456789_abcdefghij",
    ),
    (
        "gitlab_token",
        "glpat-AbCdEfGhIjKlMnOpQrSt",
        "AbCdEfGhIjKlMnOpQrSt",
    ),
    (
        "slack_token",
        "xoxb-1234567890-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    (
        "google_api_key",
        "AIzaSyA-1234567890abcdefghijklmnopqrstu",
        "SyA-1234567890abcdefghijklmnopqrstu",
    ),
    (
        "stripe_key",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "4eC39HqLyjWDarjtT1zdp7dc",
    ),
    (
        "stripe_key",
        "rk_live_4eC39HqLyjWDarjtT1zdp7dc",
        "4eC39HqLyjWDarjtT1zdp7dc",
    ),
    (
        "npm_token",
        "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    ),
    (
        "huggingface_token",
        "hf_AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
        "AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    ),
    (
        "pypi_token",
        "pypi-AgEIcHlwaS5vcmcCJDU3OTM5NjE4LWZkYjYtNGFiZC1hYjNlLTE0YTlmZTI0NzZkZgACKlszLCJhZjA",
        "CJDU3OTM5NjE4LWZkYjYtNGFiZC1hYjNl",
    ),
    ("aws_key_id", "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_key_id", "ASIAY34FZKBOKMUTVV7A", "ASIAY34FZKBOKMUTVV7A"),
    (
        "aws_secret_key",
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "aws_secret_key",
        "AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    ),
    (
        "bearer",
        "curl -H 'X-Forward: Bearer abc123def456ghi789' x",
        "abc123def456ghi789",
    ),
    ("bearer", "BEARER 9f8e7d6c5b4a3210", "9f8e7d6c5b4a3210"),
    (
        "secret_assignment",
        "export DB_PASSWORD=hunter2x && run",
        "hunter2x",
    ),
    (
        "secret_assignment",
        "mytool --api-key abc123secret --verbose",
        "abc123secret",
    ),
    (
        "secret_assignment",
        "Authorization: Basic dXNlcjpwYXNzd29yZA==",
        "dXNlcjpwYXNzd29yZA",
    ),
    (
        "secret_assignment",
        "Cookie: sid=abc123; theme=dark",
        "abc123",
    ),
    (
        "secret_assignment",
        r#"config {"client_secret": "zzTopSecretValue"}"#,
        "zzTopSecretValue",
    ),
    (
        "secret_assignment",
        "password: correct-horse-battery",
        "correct-horse-battery",
    ),
    ("email", "alice.smith@example.com", "alice.smith"),
    ("email", "mailto:bob+tag@mail.example.co.uk", "bob+tag"),
    ("credit_card", "4111 1111 1111 1111", "4111 1111 1111 1111"),
    ("credit_card", "5500-0000-0000-0004", "5500-0000-0000-0004"),
    ("credit_card", "4111111111111111", "4111111111111111"),
    ("credit_card", "Amex 378282246310005 exp", "378282246310005"),
    ("ssn", "SSN 123-45-6789.", "123-45-6789"),
    ("phone", "+1 415 555 2671", "555 2671"),
    ("phone", "call (415) 555-2671 now", "555-2671"),
    ("phone", "415-555-2671", "555-2671"),
    ("phone", "+44 20 7946 0958", "7946 0958"),
    ("phone", "+14155552671", "4155552671"),
    ("home_path", "/home/alice/project/src", "alice"),
    ("home_path", "/Users/bob.jones/Library", "bob.jones"),
    ("home_path", r"C:\Users\carol\AppData", "carol"),
    (
        "home_path",
        "/home/dave/.claude/projects/-home-dave-work-proj/abc.jsonl",
        "dave",
    ),
    (
        "home_path",
        "/home/eve.k/.claude/projects/-home-eve-k-src/x.jsonl",
        "eve",
    ),
];

fn has(kinds: &[&str], k: &str) -> bool {
    kinds.contains(&k)
}

#[test]
fn every_kind_in_plain_text() {
    let r = r();
    for (kind, text, secret) in SEEDS {
        let input = format!("before {text} after");
        let (out, kinds) = r.redact_text(&input);
        assert!(!out.contains(secret), "{kind}: {secret:?} left in {out:?}");
        assert!(
            has(&kinds, kind),
            "{kind} not reported for {input:?}: {kinds:?}"
        );
        assert!(out.starts_with("before "), "{kind}: prefix lost: {out:?}");
    }
}

#[test]
fn every_kind_in_json_strings() {
    let r = r();
    for (kind, text, secret) in SEEDS {
        let docs = [
            json!({ "tool_input": { "command": format!("echo {text}") } }),
            json!({ "a": [ { "b": [ "x", *text, 1 ] } ], "n": null }),
            json!([ { "deep": { "deeper": [ [ format!("{text}\nline two") ] ] } } ]),
        ];
        for doc in docs {
            for bytes in [
                serde_json::to_vec(&doc).unwrap(),
                serde_json::to_vec_pretty(&doc).unwrap(),
            ] {
                let (out, kinds) = r.redact_payload(&bytes);
                let s = std::str::from_utf8(&out).unwrap();
                let parsed: Value = serde_json::from_str(s).unwrap();
                let decoded = parsed.to_string();
                assert!(!decoded.contains(secret), "{kind}: {secret:?} left in {s}");
                // Secrets may also appear JSON-escaped in the raw output.
                assert!(!s.contains(secret), "{kind}: {secret:?} left in {s}");
                assert!(
                    has(&kinds, kind),
                    "{kind} not reported for {doc}: {kinds:?}"
                );
                // The Value API agrees.
                let mut v = doc.clone();
                let vk = r.redact_value(&mut v);
                assert_eq!(v, parsed, "{kind}: value API differs");
                assert_eq!(vk, kinds, "{kind}: value API kinds differ");
            }
        }
    }
}

#[test]
fn mixed_text() {
    let r = r();
    let input = "user alice@example.com pushed with ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 \
                 from /home/alice/src, card 4111-1111-1111-1111, key AKIAIOSFODNN7EXAMPLE";
    let (out, kinds) = r.redact_text(input);
    assert_eq!(
        kinds,
        [
            "aws_key_id",
            "credit_card",
            "email",
            "github_token",
            "home_path"
        ]
    );
    assert_eq!(
        out,
        "user [REDACTED:email] pushed with [REDACTED:github_token] from /home/[USER]/src, \
         card [REDACTED:credit_card], key [REDACTED:aws_key_id]"
    );
}

#[test]
fn replacement_formats() {
    let r = r();
    let cases = [
        (
            "git clone https://bob:hunter2@github.com/x/y.git",
            "git clone https://[REDACTED:url_credentials]@github.com/x/y.git",
        ),
        ("cd /home/alice && ls", "cd /home/[USER] && ls"),
        ("file:///home/alice/x", "file:///home/[USER]/x"),
        ("/var/home/alice/x", "/var/home/[USER]/x"),
        (
            "PATH=/home/a/bin:/home/b/bin",
            "PATH=/home/[USER]/bin:/home/[USER]/bin",
        ),
        (r"C:\Users\John Smith\Desktop", r"C:\Users\[USER]\Desktop"),
        (
            "Authorization: Bearer abc123def456",
            "Authorization: [REDACTED:secret_assignment]",
        ),
        (
            "TOKEN=abc123 make",
            "TOKEN=[REDACTED:secret_assignment] make",
        ),
        (
            r#"{"password": "hunter2"}"#,
            r#"{"password": "[REDACTED:secret_assignment]"}"#,
        ),
        (
            r#"{\"api_key\": \"abc123\"}"#,
            r#"{\"api_key\": \"[REDACTED:secret_assignment]\"}"#,
        ),
        // Raw text with JSON escapes: `\n` before a token still delimits it.
        (
            r"line\nghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789\n",
            r"line\n[REDACTED:github_token]\n",
        ),
        (r"x\n/home/alice/y", r"x\n/home/[USER]/y"),
        (r"x\n4111111111111111", r"x\n[REDACTED:credit_card]"),
        (
            r"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIB\n-----END EC PRIVATE KEY-----\nrest",
            r"[REDACTED:private_key]\nrest",
        ),
        ("4111 1111 1111 1111 12/27", "[REDACTED:credit_card] 12/27"),
    ];
    for (input, want) in cases {
        let (out, _) = r.redact_text(input);
        assert_eq!(out, want, "input {input:?}");
    }
}

#[test]
fn sensitive_keys_at_any_depth() {
    let r = r();
    let doc = json!({
        "session_id": "550e8400-e29b-41d4-a716-446655440000",
        "tool_input": {
            "headers": [ { "X-Api-Key": "zz-key-1", "Accept": "json" } ],
            "env": { "GITHUB_TOKEN": "zz-tok-2", "HOME": "/tmp/h", "PORT": 8080 },
            "db": { "password": 12345, "passwordless": false, "user": "u" },
            "credentials": { "user": "zz-user-3", "pin": 4321, "ok": true, "none": null,
                             "list": ["zz-a", ["zz-b"]] },
            "clientSecret": "",
            "refresh_token": "[REDACTED:sensitive_key]",
        },
        "usage": { "input_tokens": 1234, "output_tokens": 56, "max_tokens": 4096 },
    });
    let bytes = serde_json::to_vec(&doc).unwrap();
    let (out, kinds) = r.redact_payload(&bytes);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(kinds, ["sensitive_key"]);
    let m = "[REDACTED:sensitive_key]";
    let t = &v["tool_input"];
    assert_eq!(t["headers"][0]["X-Api-Key"], m);
    assert_eq!(t["headers"][0]["Accept"], "json");
    assert_eq!(t["env"]["GITHUB_TOKEN"], m);
    assert_eq!(t["env"]["PORT"], 8080);
    assert_eq!(t["db"]["password"], m);
    assert_eq!(t["db"]["passwordless"], false);
    assert_eq!(t["db"]["user"], "u");
    assert_eq!(t["credentials"]["user"], m);
    assert_eq!(t["credentials"]["pin"], m);
    assert_eq!(t["credentials"]["ok"], true);
    assert_eq!(t["credentials"]["none"], Value::Null);
    assert_eq!(t["credentials"]["list"], json!([m, [m]]));
    assert_eq!(t["clientSecret"], "");
    assert_eq!(t["refresh_token"], m);
    assert_eq!(v["usage"], doc["usage"]);
    assert_eq!(v["session_id"], doc["session_id"]);
    let mut vv = doc;
    assert_eq!(r.redact_value(&mut vv), ["sensitive_key"]);
    assert_eq!(vv, v);
}

#[test]
fn payload_keeps_formatting_and_borrows_when_clean() {
    let r = r();
    let clean = br#"{ "hook_event_name": "PreToolUse", "tool_input": {"command": "ls -la"} }"#;
    let (out, kinds) = r.redact_payload(clean);
    assert!(matches!(out, Cow::Borrowed(_)));
    assert!(kinds.is_empty());
    let dirty = br#"{ "cwd": "/home/alice/p",  "n": [1, 2.5e3, -0, true] }"#;
    let (out, kinds) = r.redact_payload(dirty);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{ "cwd": "/home/[USER]/p",  "n": [1, 2.5e3, -0, true] }"#
    );
    assert_eq!(kinds, ["home_path"]);
    // Keys are redacted too; escaped strings are decoded first.
    let esc = br#"{"/home/alice/a": "x\u0040example.com \/home\/bob\/z"}"#;
    let (out, kinds) = r.redact_payload(esc);
    let v: Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(
        v,
        json!({"/home/[USER]/a": "[REDACTED:email] /home/[USER]/z"})
    );
    assert_eq!(kinds, ["email", "home_path"]);
    // Card numbers as JSON integers.
    let (out, kinds) = r.redact_payload(br#"{"n": 4111111111111111, "m": 4111111111111112}"#);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"n": "[REDACTED:credit_card]", "m": 4111111111111112}"#
    );
    assert_eq!(kinds, ["credit_card"]);
}

#[test]
fn invalid_json_is_redacted_as_text() {
    let r = r();
    for input in [
        &b"not json alice@example.com"[..],
        b"{\"a\": \"alice@example.com\"",
        b"{\"a\": \"alice@example.com\"} trailing",
        b"\xff\xfe alice@example.com",
    ] {
        let (out, kinds) = r.redact_payload(input);
        let s = String::from_utf8_lossy(&out);
        assert!(!s.contains("alice@"), "{s}");
        assert_eq!(kinds, ["email"]);
    }
    // Too deep for the JSON walker: still redacted, as text.
    let deep = format!("{}\"bob@example.com\"{}", "[".repeat(200), "]".repeat(200));
    let (out, kinds) = r.redact_payload(deep.as_bytes());
    assert!(!String::from_utf8_lossy(&out).contains("bob@"));
    assert_eq!(kinds, ["email"]);
}

/// Strings that must come through untouched.
const CLEAN: &[&str] = &[
    "3f786850e387550fdab836ed7e6dc881de23001b",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b (HEAD -> main)",
    "550e8400-e29b-41d4-a716-446655440000",
    "12345678-1234-1234-1234-123456789012",
    "4111111111111112",
    "1234567812345678",
    "1732190881000",
    "1732190881",
    "1732190881123456789",
    "2026-11-21T11:48:01.123Z",
    "2026-11-21 11:48:01",
    "192.168.100.200",
    "10.0.0.1:8080",
    "[2001:db8::1]:443",
    "1.2.3",
    "v10.24.1",
    "2.0.0-rc.1+build.5",
    "input_tokens: 1234",
    r#""max_tokens": 4096, "output_tokens": 56"#,
    "token_count=17",
    "/usr/local/bin/python3",
    "/root/.bashrc",
    "/var/log/syslog",
    "/srv/app/home/index.html",
    "/Users/Shared/x",
    "SGVsbG8gd29ybGQ=",
    "aGVsbG8gd29ybGQgdGhpcyBpcyBhIHRlc3Q=",
    "port 8080, size 1048576 bytes, pid 123456",
    "git@github.com:org/repo.git",
    "ssh://git@github.com/org/repo",
    "icon@2x.png",
    "npm i react@18.2.0 @types/node",
    "token: str",
    "apiKey: string;",
    "secret: Option<String>,",
    "password = input(\"pw\")",
    "token = config.token",
    "PASSWORD=$DB_PASSWORD",
    "api_key=None",
    "Co-Authored-By: Claude <noreply@anthropic.com>",
    "the task-1234567890abcdefghijkl id",
    "bearer of bad news; Bearer authentication",
    "call 555-1234",
    "order 123456789",
    "pi 3.14159265358979323",
    "+12 -3 lines",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "the ghp_ prefix",
    "hf_hub_download_with_cache_and_retries_enabled",
    "xoxo-gossip-girl-fan-club",
    "https://example.com:8443/path?q=a@b",
    "http://localhost:3000/@user",
    "--home-dir /tmp",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "phone ext +1",
];

#[test]
fn false_positives_stay_intact() {
    let r = r();
    for s in CLEAN {
        let (out, kinds) = r.redact_text(s);
        assert_eq!(out, *s, "changed: {s:?}");
        assert!(kinds.is_empty(), "{s:?}: {kinds:?}");
        let doc = json!({ "tool_input": { "command": s, "n": 1234, "f": 1.5 } });
        let bytes = serde_json::to_vec(&doc).unwrap();
        let (out, kinds) = r.redact_payload(&bytes);
        assert_eq!(&*out, &bytes[..], "payload changed: {s:?}");
        assert!(kinds.is_empty(), "{s:?}: {kinds:?}");
    }
    let usage = br#"{"usage":{"input_tokens":1234,"output_tokens":56,"cache_read_input_tokens":9},"max_tokens":4096,"session_id":"550e8400-e29b-41d4-a716-446655440000","ts":1732190881000}"#;
    let (out, kinds) = r.redact_payload(usage);
    assert!(matches!(out, Cow::Borrowed(_)) && kinds.is_empty());
}

#[test]
fn config_disable_kind() {
    let cfg = RedactConfig {
        disabled_kinds: vec!["email".into(), "home_path".into()],
        ..RedactConfig::default()
    };
    let r = Redactor::new(&cfg).unwrap();
    let (out, kinds) =
        r.redact_text("a@example.com /home/alice ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789");
    assert_eq!(out, "a@example.com /home/alice [REDACTED:github_token]");
    assert_eq!(kinds, ["github_token"]);
    let cfg = RedactConfig {
        disabled_kinds: vec!["sensitive_key".into()],
        ..RedactConfig::default()
    };
    let r = Redactor::new(&cfg).unwrap();
    let (out, kinds) = r.redact_payload(br#"{"password":"hunter2","x":"a@b.io"}"#);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"password":"hunter2","x":"[REDACTED:email]"}"#
    );
    assert_eq!(kinds, ["email"]);
}

#[test]
fn config_extra_patterns_and_keys() {
    let cfg = RedactConfig {
        extra: vec![
            ExtraPattern {
                kind: "acme_token".into(),
                pattern: "acme_[0-9a-f]{8}".into(),
            },
            ExtraPattern {
                kind: "ticket_secret".into(),
                pattern: r"ticket=(?P<secret>[0-9]{4,})".into(),
            },
        ],
        extra_keys: vec!["x-internal-sig".into()],
        ..RedactConfig::default()
    };
    let r = Redactor::new(&cfg).unwrap();
    let (out, kinds) = r.redact_text("use acme_deadbeef and ticket=123456 X_INTERNAL_SIG=abc123");
    assert_eq!(
        out,
        "use [REDACTED:acme_token] and ticket=[REDACTED:ticket_secret] \
         X_INTERNAL_SIG=[REDACTED:secret_assignment]"
    );
    assert_eq!(kinds, ["acme_token", "secret_assignment", "ticket_secret"]);
    let (out, kinds) = r.redact_payload(br#"{"h":{"xInternalSig":"v1"},"c":"acme_0123abcd"}"#);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"h":{"xInternalSig":"[REDACTED:sensitive_key]"},"c":"[REDACTED:acme_token]"}"#
    );
    assert_eq!(kinds, ["acme_token", "sensitive_key"]);
    // An extra kind can be disabled like a built-in one.
    let mut cfg2 = cfg;
    cfg2.disabled_kinds = vec!["acme_token".into()];
    let r = Redactor::new(&cfg2).unwrap();
    assert_eq!(r.redact_text("acme_deadbeef").0, "acme_deadbeef");
}

#[test]
fn config_disabled_passes_through() {
    let cfg = RedactConfig {
        enabled: false,
        ..RedactConfig::default()
    };
    let r = Redactor::new(&cfg).unwrap();
    assert!(!r.enabled());
    let input = br#"{"password":"hunter2","e":"a@example.com"}"#;
    let (out, kinds) = r.redact_payload(input);
    assert!(matches!(out, Cow::Borrowed(_)) && kinds.is_empty());
    let (out, kinds) = r.redact_text("a@example.com");
    assert!(matches!(out, Cow::Borrowed(_)) && kinds.is_empty());
    let mut v = json!({"password": "x"});
    assert!(r.redact_value(&mut v).is_empty());
    assert_eq!(v, json!({"password": "x"}));
}

#[test]
fn config_errors() {
    let bad = |extra: Vec<(&str, &str)>, disabled: Vec<&str>, keys: Vec<&str>| {
        let cfg = RedactConfig {
            enabled: true,
            disabled_kinds: disabled.into_iter().map(String::from).collect(),
            extra: extra
                .into_iter()
                .map(|(k, p)| ExtraPattern {
                    kind: k.into(),
                    pattern: p.into(),
                })
                .collect(),
            extra_keys: keys.into_iter().map(String::from).collect(),
        };
        Redactor::new(&cfg).unwrap_err()
    };
    let e = bad(vec![("my_kind", "acme_[0-9")], vec![], vec![]);
    assert!(
        e.contains("my_kind") && e.contains("invalid pattern"),
        "{e}"
    );
    let e = bad(vec![("my_kind", "a*")], vec![], vec![]);
    assert!(e.contains("empty string"), "{e}");
    let e = bad(vec![("my_kind", "REDACTED")], vec![], vec![]);
    assert!(e.contains("own replacement"), "{e}");
    let e = bad(vec![("Bad-Name", "x")], vec![], vec![]);
    assert!(e.contains("Bad-Name"), "{e}");
    let e = bad(vec![("email", "x")], vec![], vec![]);
    assert!(e.contains("built-in"), "{e}");
    let e = bad(vec![], vec!["emial"], vec![]);
    assert!(e.contains("emial") && e.contains("email"), "{e}");
    let e = bad(vec![], vec![], vec!["--"]);
    assert!(e.contains("extra_keys"), "{e}");
}

#[test]
fn config_from_toml() {
    #[derive(Deserialize)]
    struct File {
        #[serde(default)]
        redact: RedactConfig,
    }
    let f: File = toml::from_str("").unwrap();
    assert_eq!(f.redact, RedactConfig::default());
    assert!(f.redact.enabled);
    let f: File = toml::from_str(
        r#"
        [redact]
        disabled_kinds = ["phone"]
        extra_keys = ["x-sig"]
        [[redact.extra]]
        kind = "acme_token"
        pattern = "acme_[0-9a-f]{32}"
        "#,
    )
    .unwrap();
    assert!(f.redact.enabled);
    assert_eq!(f.redact.disabled_kinds, ["phone"]);
    assert_eq!(f.redact.extra[0].kind, "acme_token");
    assert!(Redactor::new(&f.redact).is_ok());
    assert!(toml::from_str::<File>("[redact]\nenable = true").is_err());
    assert!(toml::from_str::<File>("[[redact.extra]]\nkind='a'\npattern='b'\nx=1").is_err());
}

/// Large adversarial inputs: each must finish quickly (linear work), not just correctly.
#[test]
fn pathological_inputs() {
    let r = r();
    let inputs = [
        "1 ".repeat(100_000),
        "4111-".repeat(40_000),
        "/home/a projects/-home-".repeat(10_000),
        "[REDACTED:".repeat(20_000),
        "a@".repeat(50_000),
        "-----BEGIN RSA PRIVATE KEY-----".repeat(5_000),
        "password=x ".repeat(20_000),
        "+1 (".repeat(50_000),
    ];
    for s in &inputs {
        let t = std::time::Instant::now();
        let (out, _) = r.redact_text(s);
        let mut v = json!({ s.as_str(): s.as_str() });
        r.redact_value(&mut v);
        let bytes = serde_json::to_vec(&v).unwrap();
        let _ = r.redact_payload(&bytes);
        assert!(
            t.elapsed() < std::time::Duration::from_secs(20),
            "{}…: {:?}",
            &s[..20],
            t.elapsed()
        );
        drop(out);
    }
}

#[test]
fn redactor_is_send_sync() {
    fn check<T: Send + Sync>() {}
    check::<Redactor>();
}

/// Rough timing, printed with `--nocapture` (not an assertion; see benches/redact.rs).
#[test]
fn timing_sanity() {
    let r = r();
    let clean = bench_payload(false);
    let dirty = bench_payload(true);
    for (name, p) in [("typical", &clean), ("secrets", &dirty)] {
        let n = 2000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(r.redact_payload(std::hint::black_box(p)));
        }
        let per = t.elapsed() / n;
        println!("redact_payload {name} ({} B): {per:?}/event", p.len());
    }
}

/// A ~1 KB PreToolUse payload (also used by the bench, kept in step by hand).
fn bench_payload(secrets: bool) -> Vec<u8> {
    let cmd = if secrets {
        "GITHUB_TOKEN=ghp_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789 curl -H 'Authorization: Bearer \
         eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcdefghijklmnop' https://u:pw@api.example.com \
         && echo alice@example.com 4111111111111111"
    } else {
        "cargo test -p hookd --lib -- redact::tests --nocapture 2>&1 | tail -n 50"
    };
    serde_json::to_vec(&json!({
        "session_id": "550e8400-e29b-41d4-a716-446655440000",
        "transcript_path": "/home/alice/.claude/projects/-home-alice-src-hookd/550e8400-e29b-41d4-a716-446655440000.jsonl",
        "cwd": "/home/alice/src/hookd",
        "permission_mode": "default",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {
            "command": cmd,
            "description": "Run the redaction unit tests and show the last fifty lines of output so we can see the timing numbers and any failures in detail",
            "timeout": 120000,
        },
        "tool_use_id": "toolu_01ABCDefGhijKLmnOPqrSTuv",
        "extra": { "notes": "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur." },
    }))
    .unwrap()
}

// ---------------------------------------------------------------------------------------
// Property tests.

/// Fragments that exercise the patterns and their boundaries.
fn fragment() -> impl Strategy<Value = String> {
    let seeds: Vec<String> = SEEDS.iter().map(|(_, t, _)| (*t).to_owned()).collect();
    let bits: Vec<String> = [
        " ",
        "\n",
        "\\n",
        "\\",
        "\"",
        "'",
        "=",
        ": ",
        "@",
        "/home/",
        "/Users/",
        "C:\\Users\\",
        "-",
        "+",
        "(",
        ")",
        ".",
        "4111",
        "1111",
        "555",
        "123-45-",
        "6789",
        "projects/-home-",
        "password",
        "TOKEN",
        "api_key",
        "Bearer ",
        "https://",
        "user:",
        "[REDACTED:email]",
        "[USER]",
        "eyJ",
        "sk-",
        "ghp_",
        "AKIA",
        "secret_access_key=",
        "-----BEGIN",
        " PRIVATE KEY-----",
        "-----END",
        "Cookie: ",
        "--token ",
        "é",
        "\u{1F600}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    prop_oneof![
        3 => proptest::sample::select(bits),
        2 => proptest::sample::select(seeds),
        2 => "[a-zA-Z0-9_./:@ -]{0,12}",
        1 => any::<String>(),
    ]
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(fragment(), 0..12).prop_map(|v| v.concat())
}

fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        proptest::sample::select(vec![
            "a",
            "b",
            "password",
            "Token",
            "input_tokens",
            "cwd",
            "x-api-key",
            "credentials",
            "/home/alice/k",
            "auth",
            "note",
        ])
        .prop_map(String::from),
        text(),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        Just(json!(4_111_111_111_111_111_u64)),
        Just(json!(2.5)),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Whether two keys of one object in `v` are equal once redacted.
fn key_collision(r: &Redactor, v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            let mut seen = std::collections::HashSet::new();
            m.keys()
                .any(|k| !seen.insert(r.redact_text(k).0.into_owned()))
                || m.values().any(|x| key_collision(r, x))
        }
        Value::Array(a) => a.iter().any(|x| key_collision(r, x)),
        _ => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2048,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn text_idempotent(s in text()) {
        let r = r();
        let (once, _) = r.redact_text(&s);
        let (twice, kinds2) = r.redact_text(&once);
        prop_assert_eq!(&once, &twice);
        // A second pass finds nothing new to report except already-redacted kinds.
        let _ = kinds2;
    }

    #[test]
    fn prefilter_is_sound(s in text()) {
        let r = r();
        let mut f1 = Found::default();
        let mut f2 = Found::default();
        let filtered = r.redact_str(&s, &mut f1);
        let all = r.redact_masked(&s, u32::MAX, &mut f2);
        prop_assert_eq!(filtered, all);
        prop_assert_eq!(f1.bits, f2.bits);
    }

    #[test]
    fn payload_matches_value_and_is_idempotent(v in json_value(), pretty in any::<bool>()) {
        let r = r();
        // Keys that collide after redaction are kept twice by the streaming path and
        // collapsed by the Value path (documented); leave them out of the comparison.
        prop_assume!(!key_collision(r, &v));
        let bytes = if pretty {
            serde_json::to_vec_pretty(&v).unwrap()
        } else {
            serde_json::to_vec(&v).unwrap()
        };
        let (out, kinds) = r.redact_payload(&bytes);
        let parsed: Value = serde_json::from_slice(&out).unwrap();
        let mut expected = v;
        let vkinds = r.redact_value(&mut expected);
        prop_assert_eq!(&parsed, &expected);
        prop_assert_eq!(kinds, vkinds);
        let (again, _) = r.redact_payload(&out);
        prop_assert_eq!(&*again, &*out);
    }

    #[test]
    fn never_panics_on_bytes(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let r = r();
        let _ = r.redact_payload(&b);
        let _ = r.redact_text(&String::from_utf8_lossy(&b));
    }
}
