//! Every settings key with good and bad values: a bad value is an error at its line and
//! column, never a default.

use std::time::Duration;

use super::*;

const FILE: &str = "/cfg/hookd.toml";

fn read(text: &str) -> (Settings, Vec<String>) {
    parse_text(FILE, text)
}

/// Settings from `text`, which must have no errors.
fn good(text: &str) -> Settings {
    let (s, errors) = read(text);
    assert!(errors.is_empty(), "{text}\n{errors:#?}");
    s
}

/// The errors of `text` (at least one).
fn bad(text: &str) -> Vec<String> {
    let (_, errors) = read(text);
    assert!(!errors.is_empty(), "no error for:\n{text}");
    errors
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn no_file_and_an_empty_file_are_the_defaults() {
    let s = good("");
    assert_eq!(s.store, StoreSettings::default());
    assert_eq!(s.session, SessionSettings::default());
    assert_eq!(s.server, ServerSettings::default());
    assert_eq!(s.http, HttpSettings::default());
    assert_eq!(s.run, RunSettings::default());
    assert!(s.packs.is_none() && s.disable_rules.is_empty());
    assert!(s.redact.redactor.enabled());
    assert_eq!(s.store.synchronous, Synchronous::Normal);
    assert_eq!(s.store.max_age, secs(30 * 86_400));
    assert_eq!(s.store.max_size, 1 << 30);
    assert_eq!(s.store.emergency_journal, 4 << 20);
    assert_eq!(s.session.idle_ttl, secs(30 * 60));
    assert_eq!(s.session.max_live, 50_000);
    assert!(s.session.bypass_alarm);
    assert_eq!(s.server.max_connections, 1024);
    assert_eq!(s.server.idle_timeout, secs(60));
    assert_eq!(s.http.listen, None);
    assert_eq!(s.http.auth_timeout, secs(2));
    assert_eq!(s.http.max_unauthenticated, 256);
    assert_eq!(s.http.max_connections, 1024);
    assert_eq!(s.run.max_background, 4);
    assert_eq!(s.run.retry_backoff, secs(1));
}

/// (table, key, good values with what they read as, bad values).
type Row = (
    &'static str,
    &'static str,
    Vec<(&'static str, fn(&Settings) -> bool)>,
    Vec<&'static str>,
);

#[allow(clippy::too_many_lines)] // one table of every key
fn table() -> Vec<Row> {
    vec![
        (
            "store",
            "synchronous",
            vec![
                ("\"normal\"", |s| s.store.synchronous == Synchronous::Normal),
                ("\"full\"", |s| s.store.synchronous == Synchronous::Full),
            ],
            vec!["\"FULL\"", "\"Full\"", "\"off\"", "\"\"", "1", "true"],
        ),
        (
            "store",
            "max_age",
            vec![
                ("\"30d\"", |s| s.store.max_age == secs(30 * 86_400)),
                ("\"12h\"", |s| s.store.max_age == secs(12 * 3600)),
                ("\"1d12h\"", |s| s.store.max_age == secs(36 * 3600)),
                ("\"1w\"", |s| s.store.max_age == secs(7 * 86_400)),
                ("3600", |s| s.store.max_age == secs(3600)),
                ("\"3600\"", |s| s.store.max_age == secs(3600)),
            ],
            vec![
                "\"30 days\"",
                "\"0s\"",
                "0",
                "-5",
                "\"forever\"",
                "\"36501d\"",
                "true",
                "[\"1d\"]",
            ],
        ),
        (
            "store",
            "max_size",
            vec![
                ("\"1GiB\"", |s| s.store.max_size == 1 << 30),
                ("\"500MB\"", |s| s.store.max_size == 500_000_000),
                ("\"100M\"", |s| s.store.max_size == 100_000_000),
                ("2048", |s| s.store.max_size == 2048),
            ],
            vec!["\"1 gigabyte\"", "\"0\"", "0", "-1", "\"1.5GiB\"", "1.5"],
        ),
        (
            "store",
            "emergency_journal",
            vec![
                ("\"16MiB\"", |s| s.store.emergency_journal == 16 << 20),
                ("\"64KiB\"", |s| s.store.emergency_journal == 64 << 10),
                ("65536", |s| s.store.emergency_journal == 65_536),
            ],
            vec!["\"63KiB\"", "\"4 MiB please\"", "0", "\"\""],
        ),
        (
            "session",
            "idle_ttl",
            vec![
                ("\"30m\"", |s| s.session.idle_ttl == secs(1800)),
                ("\"2s\"", |s| s.session.idle_ttl == secs(2)),
                ("\"1h30m\"", |s| s.session.idle_ttl == secs(5400)),
                ("90", |s| s.session.idle_ttl == secs(90)),
                ("1.5", |s| s.session.idle_ttl == ms(1500)),
            ],
            vec![
                "\"30 minutes\"",
                "\"500ms\"",
                "\"0s\"",
                "\"30x\"",
                "-1",
                "\"\"",
            ],
        ),
        (
            "session",
            "max_live",
            vec![
                ("64", |s| s.session.max_live == 64),
                ("1", |s| s.session.max_live == 1),
            ],
            vec!["0", "-1", "\"64\"", "1.5", "100000001"],
        ),
        (
            "session",
            "bypass_alarm",
            vec![
                ("false", |s| !s.session.bypass_alarm),
                ("true", |s| s.session.bypass_alarm),
            ],
            vec!["\"no\"", "0", "\"false\""],
        ),
        (
            "server",
            "max_connections",
            vec![("8", |s| s.server.max_connections == 8)],
            vec!["0", "-8", "\"8\"", "1000001", "9223372036854775807"],
        ),
        (
            "server",
            "idle_timeout",
            vec![
                ("\"5s\"", |s| s.server.idle_timeout == secs(5)),
                ("\"500ms\"", |s| s.server.idle_timeout == ms(500)),
                ("60", |s| s.server.idle_timeout == secs(60)),
            ],
            vec!["\"0s\"", "\"5 s\"", "\"soon\"", "false"],
        ),
        (
            "http",
            "listen",
            vec![
                ("\"127.0.0.1:8787\"", |s| {
                    s.http.listen == Some("127.0.0.1:8787".parse().unwrap())
                }),
                ("\"[::1]:0\"", |s| {
                    s.http.listen == Some("[::1]:0".parse().unwrap())
                }),
            ],
            vec![
                "\"localhost:8787\"",
                "\"0.0.0.0:8787\"",
                "\"127.0.0.1\"",
                "8787",
            ],
        ),
        (
            "http",
            "allow_non_loopback",
            vec![
                ("true", |s| s.http.allow_non_loopback),
                ("false", |s| !s.http.allow_non_loopback),
            ],
            vec!["\"yes\"", "1"],
        ),
        (
            "http",
            "auth_timeout",
            vec![
                ("\"2s\"", |s| s.http.auth_timeout == secs(2)),
                ("\"500ms\"", |s| s.http.auth_timeout == ms(500)),
                ("\"60s\"", |s| s.http.auth_timeout == secs(60)),
                ("\"1m\"", |s| s.http.auth_timeout == secs(60)),
                ("2", |s| s.http.auth_timeout == secs(2)),
            ],
            vec!["\"0s\"", "\"61s\"", "\"1m30s\"", "\"2 sec\"", "\"-1s\""],
        ),
        (
            "http",
            "max_unauthenticated",
            vec![("8", |s| s.http.max_unauthenticated == 8)],
            vec!["0", "\"8\""],
        ),
        (
            "http",
            "max_connections",
            vec![("16", |s| s.http.max_connections == 16)],
            vec!["0", "1000001"],
        ),
        (
            "run",
            "max_background",
            vec![
                ("2", |s| s.run.max_background == 2),
                ("1024", |s| s.run.max_background == 1024),
            ],
            vec!["0", "1025", "\"2\""],
        ),
        (
            "run",
            "retry_backoff",
            vec![
                ("\"100ms\"", |s| s.run.retry_backoff == ms(100)),
                ("\"5m\"", |s| s.run.retry_backoff == secs(300)),
                ("1", |s| s.run.retry_backoff == secs(1)),
            ],
            vec!["\"0s\"", "\"6m\"", "\"1 second\""],
        ),
        (
            "redact",
            "enabled",
            vec![
                ("false", |s| !s.redact.redactor.enabled()),
                ("true", |s| s.redact.redactor.enabled()),
            ],
            vec!["\"no\"", "0"],
        ),
        (
            "redact",
            "disabled_kinds",
            vec![("[\"phone\", \"email\"]", |s| {
                s.redact.config.disabled_kinds == ["phone", "email"]
            })],
            vec!["[\"phnoe\"]", "\"phone\"", "[1]"],
        ),
        (
            "redact",
            "extra_keys",
            vec![("[\"x-internal-sig\"]", |s| {
                s.redact.config.extra_keys == ["x-internal-sig"]
            })],
            vec!["[\"--\"]", "\"x\""],
        ),
    ]
}

#[test]
fn every_key_reads_its_good_values_and_refuses_bad_ones_at_their_line_and_column() {
    for (section, key, goods, bads) in table() {
        for (value, check) in goods {
            let text = format!("# hookd\n[{section}]\n{key} = {value}\n");
            let s = good(&text);
            assert!(check(&s), "[{section}] {key} = {value}: {s:#?}");
            assert_eq!(
                s.location(&format!("{section}.{key}")),
                Some(Location { line: 3, column: 1 })
            );
        }
        for value in bads {
            // The bad value after a good key, so its position is not the table's.
            let text = format!("# hookd\n[{section}]\n\n  {key} = {value}\n");
            let (s, errors) = read(&text);
            assert_eq!(errors.len(), 1, "[{section}] {key} = {value}: {errors:#?}");
            let col = 2 + key.len() + 4;
            let want = format!("{FILE}:4:{col}: [{section}] {key} = {value}: ");
            // A bad entry of a list is placed on the entry (the redactor's errors name the
            // key their own way).
            let entry = format!("{FILE}:4:{}: [{section}] {key} = ", col + 1);
            let redactor_error = format!("{FILE}:4:{}: redact.{key}", col + 1);
            assert!(
                errors[0].starts_with(&want)
                    || (value.starts_with('[')
                        && (errors[0].starts_with(&entry)
                            || errors[0].starts_with(&redactor_error))),
                "[{section}] {key} = {value}:\n{}\nwanted it to start with\n{want}",
                errors[0]
            );
            // Never a silent default that differs from the file: the key keeps the default,
            // and the error is what says so.
            let d = Settings::default();
            assert_eq!(s.store, d.store, "{text}");
            assert_eq!(s.session, d.session, "{text}");
            assert_eq!(s.server, d.server, "{text}");
            assert_eq!(s.run, d.run, "{text}");
            if section != "http" || key != "allow_non_loopback" {
                assert_eq!(s.http, d.http, "{text}");
            }
        }
    }
}

#[test]
fn a_dotted_key_at_the_top_level_is_the_same_setting() {
    let s = good("store.synchronous = \"full\"\nsession.idle_ttl = \"1m\"\n");
    assert_eq!(s.store.synchronous, Synchronous::Full);
    assert_eq!(s.session.idle_ttl, secs(60));
    let s = good("store = { max_age = \"1d\" }\n");
    assert_eq!(s.store.max_age, secs(86_400));
}

#[test]
fn synchronous_full_in_capitals_is_an_error_with_a_suggestion_not_normal() {
    let e = bad("[store]\nsynchronous = \"FULL\"\n");
    assert_eq!(
        e,
        [format!(
            "{FILE}:2:15: [store] synchronous = \"FULL\": expected \"normal\" or \"full\" (did you mean \"full\"?)"
        )]
    );
}

#[test]
fn unknown_keys_are_errors_with_a_suggestion() {
    let text = "\
pakcs = [\"git\"]
[store]
sychronous = \"full\"
max_agee = \"1d\"
[sesion]
idle_ttl = \"1m\"
[http]
listne = \"127.0.0.1:1\"
[[redact.extra]]
kind = \"acme\"
patern = \"acme_[0-9]+\"
[run]
completely_different = 1
";
    let e = bad(text);
    assert_eq!(
        e,
        [
            format!(
                "{FILE}:1:1: unknown key `pakcs` (did you mean `packs`?); hookd.toml takes: packs, disable_rules, store, session, redact, http, run, server, fleet, sink, and [[rule]] tables"
            ),
            format!(
                "{FILE}:3:1: unknown key `sychronous` in [store] (did you mean `synchronous`?); [store] takes: synchronous, max_age, max_size, emergency_journal"
            ),
            format!(
                "{FILE}:4:1: unknown key `max_agee` in [store] (did you mean `max_age`?); [store] takes: synchronous, max_age, max_size, emergency_journal"
            ),
            format!(
                "{FILE}:5:2: unknown key `sesion` (did you mean `session`?); hookd.toml takes: packs, disable_rules, store, session, redact, http, run, server, fleet, sink, and [[rule]] tables"
            ),
            format!(
                "{FILE}:8:1: unknown key `listne` in [http] (did you mean `listen`?); [http] takes: listen, allow_non_loopback, auth_timeout, max_unauthenticated, max_connections"
            ),
            format!(
                "{FILE}:9:1: [[redact.extra]] needs both `kind` (a name) and `pattern` (a regex)"
            ),
            format!(
                "{FILE}:11:1: unknown key `patern` in [redact.extra] (did you mean `pattern`?); [redact.extra] takes: kind, pattern"
            ),
            format!(
                "{FILE}:13:1: unknown key `completely_different` in [run]; [run] takes: max_background, retry_backoff"
            ),
        ]
    );
}

#[test]
fn all_errors_are_reported_at_once_in_the_files_order() {
    let text = "\
[session]
idle_ttl = \"30 minutes\"
max_live = 0
[store]
max_age = \"forever\"
synchronous = \"FULL\"
[run]
max_background = 0
retry_backoff = \"1 second\"
[server]
idle_timeout = \"soon\"
";
    let e = bad(text);
    let lines: Vec<usize> = e
        .iter()
        .map(|e| {
            e.strip_prefix(&format!("{FILE}:"))
                .and_then(|r| r.split(':').next())
                .and_then(|l| l.parse().ok())
                .unwrap()
        })
        .collect();
    assert_eq!(lines, [2, 3, 5, 6, 8, 9, 11], "{e:#?}");
}

#[test]
fn tables_of_the_wrong_type_and_top_level_types() {
    let e = bad("store = \"full\"\n");
    assert_eq!(
        e,
        [format!(
            "{FILE}:1:9: `store` must be a table (`[store]`), not string"
        )]
    );
    let e = bad("packs = \"git\"\n");
    assert!(
        e[0].contains("`packs` = \"git\": expected a list of strings"),
        "{e:?}"
    );
    let e = bad("disable_rules = [1]\n");
    assert!(
        e[0].starts_with(&format!("{FILE}:1:18: `disable_rules` = 1")),
        "{e:?}"
    );
}

#[test]
fn a_syntax_error_is_located_and_the_defaults_stand() {
    let (s, e) = read("[store]\nmax_age = \"1d\n");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with(&format!("{FILE}:2:")), "{e:?}");
    assert_eq!(s.store, StoreSettings::default());
}

#[test]
fn packs_and_disable_rules_keep_where_they_were_written() {
    let s = good("packs = [\"git\",\n  \"secrets\"]\ndisable_rules = [\"git-push-force\"]\n");
    let packs = s.packs.unwrap();
    assert_eq!(packs[0].value, "git");
    assert_eq!(packs[1].at, Location { line: 2, column: 3 });
    assert_eq!(
        s.disable_rules[0].at,
        Location {
            line: 3,
            column: 18
        }
    );
    assert_eq!(
        good("packs = []").packs.map(|p| p.len()),
        Some(0),
        "an empty list is no packs, not the default"
    );
}

#[test]
fn the_http_listener_must_be_loopback_unless_allowed() {
    let e = bad("[http]\nlisten = \"0.0.0.0:8787\"\n");
    assert!(
        e[0].contains("is not a loopback address") || e[0].contains("not a loopback address"),
        "{e:?}"
    );
    assert!(e[0].contains("allow_non_loopback = true"), "{e:?}");
    // The order of the keys does not matter.
    for text in [
        "[http]\nlisten = \"0.0.0.0:8787\"\nallow_non_loopback = true\n",
        "[http]\nallow_non_loopback = true\nlisten = \"0.0.0.0:8787\"\n",
    ] {
        assert_eq!(
            good(text).http.listen,
            Some("0.0.0.0:8787".parse().unwrap())
        );
    }
    let e = bad("[http]\nlisten = \"localhost:8787\"\n");
    assert!(e[0].contains("not an IP address and port"), "{e:?}");
}

#[test]
fn redact_errors_are_placed_on_each_bad_entry() {
    let text = "\
[redact]
disabled_kinds = [\"phone\", \"emial\", \"acme\"]
extra_keys = [\"ok-key\", \"--\"]
[[redact.extra]]
kind = \"acme\"
pattern = \"acme_[0-9]+\"
[[redact.extra]]
kind = \"Bad-Name\"
pattern = \"x\"
[[redact.extra]]
kind = \"empty\"
pattern = \"a*\"
";
    let (s, e) = read(text);
    assert_eq!(e.len(), 4, "{e:#?}");
    assert!(
        e[0].starts_with(&format!(
            "{FILE}:2:28: redact.disabled_kinds: unknown kind `emial`"
        )),
        "{e:#?}"
    );
    assert_eq!(
        e[1],
        format!("{FILE}:3:25: redact.extra_keys: `--` has no letters or digits")
    );
    assert!(
        e[2].starts_with(&format!("{FILE}:7:1: redact.extra: kind `Bad-Name`")),
        "{e:#?}"
    );
    assert_eq!(
        e[3],
        format!("{FILE}:10:1: redact.extra `empty`: pattern \"a*\" matches the empty string")
    );
    // Redaction stays on, with the built-in kinds, while `[redact]` has errors.
    assert!(s.redact.redactor.enabled());
    assert!(s.redact.config.extra.is_empty());
    // Fixed, the same table compiles.
    let s = good(
        "[redact]\ndisabled_kinds = [\"phone\", \"acme\"]\n[[redact.extra]]\nkind = \"acme\"\npattern = \"acme_[0-9]+\"\n",
    );
    assert_eq!(s.redact.config.extra.len(), 1);
}

#[test]
fn rule_files_other_than_hookd_toml_take_no_settings() {
    let text = "[http]\nlisten = \"127.0.0.1:1\"\n[[rules]]\nname = \"x\"\n";
    let doc = toml::de::DeTable::parse(text).unwrap();
    let e = misplaced("/cfg/rules.d/x.toml", text, doc.get_ref());
    assert_eq!(
        e,
        [
            "/cfg/rules.d/x.toml:1:2: `http` is a daemon setting: it belongs in hookd.toml (in hookd's configuration directory); rule files hold only [[rule]] tables",
            "/cfg/rules.d/x.toml:3:3: unknown key `rules` (did you mean `rule`?); rule files hold only [[rule]] tables",
        ]
    );
}

#[test]
fn suggestions() {
    let keys = ["synchronous", "max_age", "max_size", "emergency_journal"];
    assert_eq!(did_you_mean("sychronous", keys), Some("synchronous"));
    assert_eq!(did_you_mean("SYNCHRONOUS", keys), Some("synchronous"));
    assert_eq!(did_you_mean("max_sizee", keys), Some("max_size"));
    assert_eq!(did_you_mean("emergency", keys), None);
    assert_eq!(did_you_mean("pakcs", ["packs", "store"]), Some("packs"));
    assert_eq!(did_you_mean("x", ["packs"]), None);
}

#[test]
fn sizes() {
    assert_eq!(parse_size("1GiB"), Some(1 << 30));
    assert_eq!(parse_size("500MB"), Some(500_000_000));
    assert_eq!(parse_size("100M"), Some(100_000_000));
    assert_eq!(parse_size("2048"), Some(2048));
    assert_eq!(parse_size("4mib"), Some(4 << 20));
    assert_eq!(parse_size("0"), None);
    assert_eq!(parse_size("1 gigabyte"), None);
    assert_eq!(parse_size("99999999999TiB"), None);
}

#[test]
fn a_reload_that_changes_a_start_only_setting_says_to_restart() {
    let at_start = good("[store]\nmax_age = \"7d\"\n[run]\nmax_background = 2\n");
    // [run] applies on reload; an equal start-only value written differently is no change.
    let reloaded = good("[store]\nmax_age = \"168h\"\n[run]\nmax_background = 8\n");
    assert!(at_start.changes_needing_restart(&reloaded).is_empty());
    // So does `[session] bypass_alarm`, though the rest of [session] is read at start.
    let reloaded = good("[store]\nmax_age = \"7d\"\n[session]\nbypass_alarm = false\n");
    assert!(at_start.changes_needing_restart(&reloaded).is_empty());
    let reloaded = good("[session]\nidle_ttl = \"2s\"\n[store]\nmax_age = \"1d\"\n");
    assert_eq!(
        at_start.changes_needing_restart(&reloaded),
        [
            format!(
                "{FILE}:4:1: `store.max_age` = \"1d\" is read only at start: hookd keeps \"7d\" and the rules and settings it loaded before until `hookctl restart`"
            ),
            format!(
                "{FILE}:2:1: `session.idle_ttl` = \"2s\" is read only at start: hookd keeps \"30m\" and the rules and settings it loaded before until `hookctl restart`"
            ),
        ]
    );
    // A key removed from the file goes back to its default, which needs a restart too.
    let e = at_start.changes_needing_restart(&good(""));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(&format!("{FILE}: `store.max_age` = \"30d\"")) && e[0].contains("removed"),
        "{e:?}"
    );
}
