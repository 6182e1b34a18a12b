//! The PostgreSQL sink against a real PostgreSQL 15 (tests/src/pg.rs), driven directly with
//! crafted batches: exactly once on re-send, one statement for any batch size, the SQLSTATE
//! classes, reconnection, the least-privilege role, TLS. Skips loudly without PostgreSQL
//! (`hookctl sink init pg`'s settings and hookd look-up tests need no server and always run).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hook_tests::pg::PgServer;
use hookd::fleet_pg::{
    Origin, OutEvent, Outcome, PgConfig, PgSink, apply_sql, grants_sql, schema_sql,
};

const DB: &str = "fleet";
const WRITER: &str = "hookd_writer";
const PASSWORD: &str = "writer-pw-1";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn origin() -> Origin {
    Origin {
        host: "laptop-7".into(),
        store_id: "0123456789abcdef0123456789abcdef".into(),
        epoch: 1,
        labels: vec![
            ("team".into(), "payments".into()),
            ("env".into(), "ci".into()),
        ],
    }
}

fn event(id: i64) -> OutEvent {
    OutEvent {
        id,
        time_ms: 1_796_000_000_000 + id * 1000,
        session_id: Some(format!("sess-{}", id % 3)),
        event: "PreToolUse".into(),
        tool: Some("Bash".into()),
        project_dir: Some("/home/dev/proj".into()),
        verdict: if id % 5 == 0 { "deny" } else { "allow" }.into(),
        reason: (id % 5 == 0).then(|| "rm -rf outside the project".into()),
        rules: if id % 5 == 0 {
            vec!["no-rm-rf".into(), "guard".into()]
        } else {
            vec![]
        },
        latency_us: 100 + id,
        source: "socket".into(),
        summary: Some(format!("echo {id}")),
        redacted: if id % 7 == 0 {
            vec!["aws_key".into()]
        } else {
            vec![]
        },
        prompt_id: Some("p-1".into()),
        tool_use_id: Some(format!("toolu_{id}")),
        uid: 1000,
        payload: Some(format!(r#"{{"tool_input":{{"command":"echo {id}"}}}}"#)),
    }
}

fn events(ids: std::ops::Range<i64>) -> Vec<OutEvent> {
    ids.map(event).collect()
}

/// A 0600 password file in `dir`.
fn password_file(dir: &Path, password: &str) -> PathBuf {
    let path = dir.join("pg-password");
    std::fs::write(&path, format!("{password}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

/// A server with database `fleet`, the schema applied by the superuser through the same code
/// `hookctl sink init pg` uses, and the least-privilege role granted what the docs say.
fn server_with_schema() -> Option<PgServer> {
    let pg = PgServer::start()?;
    pg.query("postgres", &format!("CREATE DATABASE {DB}"));
    pg.query(
        "postgres",
        &format!("CREATE ROLE {WRITER} LOGIN PASSWORD '{PASSWORD}'"),
    );
    let admin = PgConfig {
        url: pg.url("postgres", DB),
        password_file: None,
        ca_file: None,
        table: "hookd_events".into(),
        schema: None,
    };
    let sql = schema_sql(&admin).unwrap() + &grants_sql(&admin, WRITER).unwrap();
    rt().block_on(apply_sql(&admin, &sql))
        .expect("apply schema and grants");
    Some(pg)
}

fn writer_config(pg: &PgServer, dir: &Path) -> PgConfig {
    PgConfig {
        url: pg.url(WRITER, DB),
        password_file: Some(password_file(dir, PASSWORD)),
        ca_file: None,
        table: "hookd_events".into(),
        schema: None,
    }
}

fn count(pg: &PgServer) -> i64 {
    pg.query(DB, "SELECT count(*) FROM hookd_events")
        .parse()
        .unwrap()
}

fn is(outcome: &Outcome, kind: &str) -> bool {
    matches!(
        (outcome, kind),
        (Outcome::Delivered, "delivered")
            | (Outcome::Retry { .. }, "retry")
            | (Outcome::Rejected { .. }, "rejected")
            | (Outcome::Hold { .. }, "hold")
    )
}

#[test]
fn batches_land_exactly_once_with_every_column_from_the_least_privilege_role() {
    let Some(pg) = server_with_schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut sink = PgSink::new(&writer_config(&pg, dir.path())).unwrap();
    let rt = rt();
    let o = origin();

    let out = rt.block_on(sink.send(&o, &events(1..101)));
    assert!(is(&out, "delivered"), "{out:?}");
    assert_eq!(count(&pg), 100);
    // A re-send after a lost acknowledgement overlaps what is there: only the new rows go in.
    let out = rt.block_on(sink.send(&o, &events(51..151)));
    assert!(is(&out, "delivered"), "{out:?}");
    assert_eq!(count(&pg), 150);
    let dupes = pg.query(
        DB,
        "SELECT count(*) FROM (SELECT 1 FROM hookd_events GROUP BY host, store_id, local_id \
         HAVING count(*) > 1) d",
    );
    assert_eq!(dupes, "0");

    // One statement for a batch far past 65,535 parameters if each value were one.
    let big = events(1000..21_000);
    let out = rt.block_on(sink.send(&o, &big));
    assert!(is(&out, "delivered"), "{out:?}");
    assert_eq!(count(&pg), 20_150);

    // Every column as sent.
    let row = pg.query(
        DB,
        "SELECT host, store_id, local_id, epoch, \
         to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS'), session_id, event, tool, \
         project, verdict, reason, rules, latency_us, source, summary, redacted, prompt_id, \
         tool_use_id, uid, labels, payload->'tool_input'->>'command' \
         FROM hookd_events WHERE local_id = 35",
    );
    let expected = [
        "laptop-7",
        "0123456789abcdef0123456789abcdef",
        "35",
        "1",
        "2026-11-30 00:53:55.000",
        "sess-2",
        "PreToolUse",
        "Bash",
        "/home/dev/proj",
        "deny",
        "rm -rf outside the project",
        "{no-rm-rf,guard}",
        "135",
        "socket",
        "echo 35",
        "{aws_key}",
        "p-1",
        "toolu_35",
        "1000",
        r#"{"env": "ci", "team": "payments"}"#,
        "echo 35",
    ]
    .join("|");
    assert_eq!(row, expected);
    let empty_lists = pg.query(
        DB,
        "SELECT rules, redacted FROM hookd_events WHERE local_id = 1",
    );
    assert_eq!(empty_lists, "{}|{}");

    // The role can do what the sink needs and nothing more.
    let as_writer = |sql: &str| {
        let out = pg.psql_as(WRITER, PASSWORD, DB, sql).unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(as_writer("SELECT host, store_id, local_id FROM hookd_events LIMIT 1").0);
    for sql in [
        "SELECT verdict FROM hookd_events LIMIT 1",
        "SELECT payload FROM hookd_events LIMIT 1",
        "SELECT * FROM hookd_events LIMIT 1",
        "DELETE FROM hookd_events",
        "UPDATE hookd_events SET verdict = 'allow'",
        "TRUNCATE hookd_events",
    ] {
        let (ok, err) = as_writer(sql);
        assert!(!ok, "the writer role could run {sql:?}");
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    assert_eq!(count(&pg), 20_150, "nothing was deleted");

    // What ON CONFLICT DO NOTHING needs: without SELECT on the key columns the insert is
    // refused (42501), which holds the data rather than skipping it.
    pg.query(
        DB,
        &format!("REVOKE SELECT (host, store_id, local_id) ON hookd_events FROM {WRITER}"),
    );
    let out = rt.block_on(sink.send(&o, &events(30_000..30_010)));
    assert!(is(&out, "hold"), "{out:?}");
    assert!(format!("{out:?}").contains("42501"), "{out:?}");
    pg.query(
        DB,
        &format!("GRANT SELECT (host, store_id, local_id) ON hookd_events TO {WRITER}"),
    );
    let out = rt.block_on(sink.send(&o, &events(30_000..30_010)));
    assert!(is(&out, "delivered"), "{out:?}");
    assert_eq!(count(&pg), 20_160);
}

#[test]
fn sqlstates_decide_retry_reject_or_hold_and_the_sink_reconnects() {
    let Some(mut pg) = server_with_schema() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let good = writer_config(&pg, dir.path());
    let rt = rt();
    let o = origin();
    let mut sink = PgSink::new(&good).unwrap();
    assert!(is(&rt.block_on(sink.send(&o, &events(1..11))), "delivered"));

    // Data errors reject the batch (the forwarder bisects to the one bad event); the
    // connection stays usable for the next batch.
    let mut bad_json = events(11..21);
    bad_json[4].payload = Some("{not json".into());
    let out = rt.block_on(sink.send(&o, &bad_json));
    assert!(is(&out, "rejected"), "{out:?}");
    assert!(format!("{out:?}").contains("22P02"), "{out:?}");
    let mut nul = events(11..12);
    nul[0].summary = Some("a\0b".into());
    let out = rt.block_on(sink.send(&o, &nul));
    assert!(is(&out, "rejected"), "{out:?}");
    assert_eq!(count(&pg), 10, "a rejected batch inserts nothing");
    assert!(is(
        &rt.block_on(sink.send(&o, &events(11..21))),
        "delivered"
    ));
    assert_eq!(count(&pg), 20);

    // The server ends the session (57P01 / closed connection): the next batch reconnects.
    pg.query(
        "postgres",
        &format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{WRITER}'"
        ),
    );
    let out = rt.block_on(sink.send(&o, &events(21..31)));
    let out = if is(&out, "retry") {
        rt.block_on(sink.send(&o, &events(21..31)))
    } else {
        out
    };
    assert!(is(&out, "delivered"), "{out:?}");

    // Server down: retry (nothing known stored); up again: the same sink delivers.
    pg.stop().unwrap();
    let out = rt.block_on(sink.send(&o, &events(31..41)));
    assert!(is(&out, "retry"), "{out:?}");
    pg.start_again().unwrap();
    assert!(is(
        &rt.block_on(sink.send(&o, &events(31..41))),
        "delivered"
    ));
    assert_eq!(count(&pg), 40);

    // Configuration and authorisation errors hold the data.
    let hold = |cfg: &PgConfig, needle: &str| {
        let mut sink = PgSink::new(cfg).unwrap();
        let out = rt.block_on(sink.send(&o, &events(100..101)));
        assert!(is(&out, "hold"), "{needle}: {out:?}");
        assert!(format!("{out:?}").contains(needle), "{needle}: {out:?}");
    };
    let wrong_dir = tempfile::tempdir().unwrap();
    hold(
        &PgConfig {
            password_file: Some(password_file(wrong_dir.path(), "wrong")),
            ..good.clone()
        },
        "28P01",
    );
    let wide = password_file(wrong_dir.path(), PASSWORD);
    std::fs::set_permissions(&wide, std::fs::Permissions::from_mode(0o644)).unwrap();
    hold(
        &PgConfig {
            password_file: Some(wide),
            ..good.clone()
        },
        "chmod 600",
    );
    hold(
        &PgConfig {
            table: "no_such_table".into(),
            ..good.clone()
        },
        "42P01",
    );
    hold(
        &PgConfig {
            url: pg.url(WRITER, "no_such_db"),
            ..good
        },
        "3D000",
    );
    assert_eq!(count(&pg), 40, "nothing held went in");
}

#[test]
fn hookctl_sink_init_pg_prints_and_creates_a_schema_the_writer_role_can_use() {
    let Some(pg) = PgServer::start() else { return };
    pg.query("postgres", &format!("CREATE DATABASE {DB}"));
    pg.query(
        "postgres",
        &format!("CREATE ROLE {WRITER} LOGIN PASSWORD '{PASSWORD}'"),
    );
    let secrets = tempfile::tempdir().unwrap();
    let pw = password_file(secrets.path(), PASSWORD);
    let toml = format!(
        "[sink.central]\nkind = \"postgres\"\nurl = \"{}\"\npassword_file = \"{}\"\n\
         schema = \"fleet\"\ntable = \"agent_events\"\n",
        pg.url(WRITER, DB),
        pw.display()
    );
    let home = hook_tests::harness::TestDaemon::unstarted(&[("hookd.toml", &toml)]).unwrap();
    let hookctl = |args: &[&str]| {
        let out = home.command("hookctl").args(args).output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };

    let (ok, printed, err) = hookctl(&["sink", "init", "pg", "--print"]);
    assert!(ok, "{err}");
    for needle in [
        "CREATE SCHEMA IF NOT EXISTS \"fleet\"",
        "CREATE TABLE IF NOT EXISTS \"fleet\".\"agent_events\"",
        "PRIMARY KEY (host, store_id, local_id)",
        "\"agent_events_session_idx\" ON \"fleet\".\"agent_events\" (session_id, time)",
        "GRANT INSERT ON \"fleet\".\"agent_events\" TO \"hookd_writer\"",
        "GRANT SELECT (host, store_id, local_id) ON \"fleet\".\"agent_events\" TO \"hookd_writer\"",
    ] {
        assert!(printed.contains(needle), "{needle} not in:\n{printed}");
    }

    // The least-privilege role itself cannot create it: a clear error, nothing half-made.
    let (ok, _, err) = hookctl(&["sink", "init", "pg", "--sink", "central"]);
    assert!(!ok);
    assert!(err.contains("permission denied"), "{err}");

    // As an admin: created and granted, twice (idempotent).
    let admin = pg.url("postgres", DB);
    for _ in 0..2 {
        let (ok, out, err) = hookctl(&["sink", "init", "pg", "--admin-url", &admin]);
        assert!(ok, "{err}");
        assert!(out.contains("fleet.agent_events ready"), "{out}");
        assert!(out.contains("role       hookd_writer: INSERT"), "{out}");
    }
    let sink_cfg = PgConfig {
        url: pg.url(WRITER, DB),
        password_file: Some(pw),
        ca_file: None,
        table: "agent_events".into(),
        schema: Some("fleet".into()),
    };
    let mut sink = PgSink::new(&sink_cfg).unwrap();
    let out = rt().block_on(sink.send(&origin(), &events(1..6)));
    assert!(is(&out, "delivered"), "{out:?}");
    assert_eq!(pg.query(DB, "SELECT count(*) FROM fleet.agent_events"), "5");
    let (ok, err) = {
        let out = pg
            .psql_as(
                WRITER,
                PASSWORD,
                DB,
                "SELECT summary FROM fleet.agent_events",
            )
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    assert!(!ok && err.contains("permission denied"), "{err}");
}

/// A `hookctl sink init` that refused: exit 1 and nothing on stdout. Returns its stderr.
fn refused(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

/// `hookctl sink init` reads hookd.toml through hookd's own settings parse (it runs `hookd
/// sink-init`): a bad value or a misspelt kind is the daemon's error at its line and column,
/// and nothing is printed, where an ad-hoc reading took the defaults and printed SQL for them.
#[test]
fn hookctl_sink_init_reports_the_settings_errors_hookd_reports() {
    for (toml, at, what) in [
        (
            "[sink.central]\nkind = \"postgres\"\nurl = \"postgres://w@db/agents\"\ntable = 5\n",
            "4:9",
            "table",
        ),
        (
            "[sink.central]\nkind = \"postgress\"\nurl = \"postgres://w@db/agents\"\n",
            "2:8",
            "did you mean \"postgres\"",
        ),
    ] {
        let home = hook_tests::harness::TestDaemon::unstarted(&[("hookd.toml", toml)]).unwrap();
        let out = home.hookctl(&["sink", "init", "pg", "--print"]).unwrap();
        let err = refused(&out);
        let file = home.home().join("hookd.toml");
        assert!(
            err.contains(&format!("{}:{at}: ", file.display())) && err.contains(what),
            "{err}"
        );
    }
}

/// `sink init` trusts hookd.toml only as hookd does: a file anyone may write (which could point
/// the admin's connection, and its password, at another server) is refused before it is read.
#[test]
fn hookctl_sink_init_refuses_a_hookd_toml_others_may_write() {
    use std::os::unix::fs::PermissionsExt;
    let toml = "[sink.central]\nkind = \"postgres\"\nurl = \"postgres://w@db/agents\"\n";
    let home = hook_tests::harness::TestDaemon::unstarted(&[("hookd.toml", toml)]).unwrap();
    let file = home.home().join("hookd.toml");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o666)).unwrap();
    let out = home.hookctl(&["sink", "init", "pg", "--print"]).unwrap();
    let err = refused(&out);
    assert!(
        err.contains(&file.display().to_string()) && err.contains("anyone can write"),
        "{err}"
    );
}

/// `hookctl sink init` runs only a hookd it may trust (as when it starts one): a hookd that
/// others may write is not run, and with none beside hookctl or in PATH the error says where
/// it looked and names HOOKD_BIN. Non-zero exit, nothing on stdout.
#[test]
fn hookctl_sink_init_without_a_trusted_hookd_is_a_clear_error() {
    use std::os::unix::fs::PermissionsExt;
    let toml = "[sink.central]\nkind = \"postgres\"\nurl = \"postgres://w@db/agents\"\n";
    let mut home = hook_tests::harness::TestDaemon::unstarted(&[("hookd.toml", toml)]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // A "hookd" anyone may rewrite: it would print if it ran.
    let fake = dir.path().join("hookd");
    std::fs::write(&fake, "#!/bin/sh\necho RAN\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o777)).unwrap();
    home.set_env("HOOKD_BIN", &fake.display().to_string());
    let out = home.hookctl(&["sink", "init", "pg", "--print"]).unwrap();
    let err = refused(&out);
    assert!(
        err.contains(&fake.display().to_string()) && err.contains("HOOKD_BIN"),
        "{err}"
    );

    // hookctl alone in a directory, PATH without hookd, no HOOKD_BIN.
    let alone = dir.path().join("bin");
    std::fs::create_dir(&alone).unwrap();
    std::fs::set_permissions(&alone, std::fs::Permissions::from_mode(0o755)).unwrap();
    let hookctl = alone.join("hookctl");
    std::fs::copy(hook_tests::harness::bin("hookctl"), &hookctl).unwrap();
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = std::process::Command::new(&hookctl)
        .args(["sink", "init", "pg", "--print"])
        .env_clear()
        .env("PATH", &empty)
        .env("HOOKD_HOME", home.home())
        .output()
        .unwrap();
    let err = refused(&out);
    for needle in [
        "no hookd executable beside this program or in an absolute PATH entry",
        &alone.display().to_string(),
        "HOOKD_BIN=",
    ] {
        assert!(err.contains(needle), "{needle} not in: {err}");
    }
}

#[test]
fn sslmode_is_honoured_and_tls_verifies_the_server() {
    let Some(mut pg) = server_with_schema() else {
        return;
    };
    let Some(ca) = pg.enable_tls().unwrap() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let base = writer_config(&pg, dir.path());
    let rt = rt();
    let o = origin();
    let url = |mode: &str| {
        base.url
            .replace("sslmode=disable", &format!("sslmode={mode}"))
    };
    // Whether the writer's open connection is encrypted, as the server sees it.
    let ssl_in_use = |pg: &PgServer| {
        pg.query(
            "postgres",
            &format!(
                "SELECT bool_or(s.ssl) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.usename = '{WRITER}'"
            ),
        )
    };
    let mut next = 1;
    let mut deliver = |cfg: PgConfig, expect_tls: &str| {
        let mut sink = PgSink::new(&cfg).unwrap();
        let out = rt.block_on(sink.send(&o, &events(next..next + 3)));
        next += 3;
        assert!(is(&out, "delivered"), "{}: {out:?}", cfg.url);
        assert_eq!(ssl_in_use(&pg), expect_tls, "{}", cfg.url);
    };
    for mode in ["verify-full", "verify-ca", "require", "prefer"] {
        deliver(
            PgConfig {
                url: url(mode),
                ca_file: Some(ca.clone()),
                ..base.clone()
            },
            "t",
        );
    }
    deliver(base.clone(), "f");
    assert_eq!(count(&pg), 15);

    // TLS always verifies: the system roots do not know this CA, so `require` holds the data
    // (a configuration error), and so does a host name the certificate does not cover.
    for (u, ca_file) in [
        (url("require"), None),
        (
            // Connects to 127.0.0.1 but expects the certificate to name `db.example`.
            url("verify-full").replace("127.0.0.1", "db.example") + "&hostaddr=127.0.0.1",
            Some(ca),
        ),
    ] {
        let mut sink = PgSink::new(&PgConfig {
            url: u.clone(),
            ca_file,
            ..base.clone()
        })
        .unwrap();
        let out = rt.block_on(sink.send(&o, &events(100..101)));
        assert!(is(&out, "hold"), "{u}: {out:?}");
        assert!(format!("{out:?}").contains("certificate"), "{u}: {out:?}");
    }
    assert_eq!(count(&pg), 15);
}

/// hookd.toml for a hookd forwarding to `pg` as the writer role, retrying fast.
fn sink_toml(pg: &PgServer, password_file: &Path) -> String {
    format!(
        "[fleet]\nhost = \"e2e-host\"\nlabels = {{ team = \"qa\" }}\n\n\
         [sink.central]\nkind = \"postgres\"\nurl = \"{}\"\npassword_file = \"{}\"\n\
         linger = \"50ms\"\nbackoff_min = \"50ms\"\nbackoff_max = \"500ms\"\ntimeout = \"10s\"\n",
        pg.url(WRITER, DB),
        password_file.display()
    )
}

/// The store's ids and its store_id, read from hookd.db.
fn local_ids(home: &Path) -> (String, Vec<i64>) {
    let db = rusqlite::Connection::open_with_flags(
        home.join("hookd.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    let store_id: String = db
        .query_row(
            "SELECT value FROM fleet_meta WHERE key = 'store_id'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let mut stmt = db.prepare("SELECT id FROM events ORDER BY id").unwrap();
    let ids = stmt
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<Vec<i64>, _>>()
        .unwrap();
    (store_id, ids)
}

fn central_ids(pg: &PgServer, store_id: &str) -> Vec<i64> {
    let out = pg.query(
        DB,
        &format!(
            "SELECT local_id FROM hookd_events WHERE host = 'e2e-host' AND store_id = '{store_id}' \
             ORDER BY local_id"
        ),
    );
    out.lines().map(|l| l.parse().unwrap()).collect()
}

fn send_events(d: &hook_tests::harness::TestDaemon, from: usize, n: usize) {
    for i in from..from + n {
        let event = hook_tests::harness::event_json(
            "PreToolUse",
            "e2e-session",
            &serde_json::json!({
                "tool_name": "Bash",
                "tool_input": { "command": format!("echo {i}") },
                "tool_use_id": format!("toolu_{i}"),
            }),
        );
        let out = d.hook(&event, &[]).unwrap();
        assert!(out.status.success(), "hook-client: {out:?}");
    }
}

#[test]
fn events_through_hook_client_arrive_once_across_a_postgres_restart_mid_stream() {
    let Some(mut pg) = server_with_schema() else {
        return;
    };
    let secrets = tempfile::tempdir().unwrap();
    let pw = password_file(secrets.path(), PASSWORD);
    let d = hook_tests::harness::TestDaemon::start_with(&[("hookd.toml", &sink_toml(&pg, &pw))])
        .unwrap();

    send_events(&d, 0, 60);
    hook_tests::harness::wait_for(
        Duration::from_secs(60),
        "the first events centrally",
        || count(&pg) >= 20,
    )
    .unwrap();
    // Restart PostgreSQL while hook-client keeps sending: the sink's connection breaks, its
    // batch is retried with the same keys on a new connection.
    std::thread::scope(|s| {
        let sender = s.spawn(|| send_events(&d, 60, 120));
        pg.restart().unwrap();
        sender.join().unwrap();
    });
    // Down for a while: events wait in the store, then all arrive.
    pg.stop().unwrap();
    send_events(&d, 180, 40);
    pg.start_again().unwrap();
    send_events(&d, 220, 20);
    let flush = d.hookctl(&["sink", "flush", "--timeout", "60s"]).unwrap();
    assert!(
        flush.status.success(),
        "sink flush: {}{}",
        String::from_utf8_lossy(&flush.stdout),
        String::from_utf8_lossy(&flush.stderr)
    );

    let (store_id, local) = local_ids(d.home());
    assert!(local.len() >= 240, "{} events stored", local.len());
    let central = central_ids(&pg, &store_id);
    assert_eq!(central, local, "every stored event centrally, once");
    let dupes = pg.query(
        DB,
        "SELECT count(*) - count(DISTINCT (host, store_id, local_id)) FROM hookd_events",
    );
    assert_eq!(dupes, "0");
    // What hook-client sent is what arrived: the commands and tool_use_ids from the payload.
    let sent = pg.query(
        DB,
        "SELECT count(DISTINCT summary), count(DISTINCT tool_use_id), min(labels->>'team') \
         FROM hookd_events WHERE event = 'PreToolUse'",
    );
    assert_eq!(sent, "240|240|qa");
    // The outage was seen (and survived) by the sink: retried, nothing rejected or dropped.
    let metrics = String::from_utf8_lossy(&d.hookctl(&["metrics"]).unwrap().stdout).to_string();
    let value = |name: &str| -> u64 {
        let prefix = format!("{name}{{sink=\"central\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("{name} not in:\n{metrics}"))
            .parse()
            .unwrap()
    };
    assert!(value("hookd_sink_retries_total") > 0, "{metrics}");
    assert_eq!(value("hookd_sink_rejected_total"), 0);
    assert_eq!(value("hookd_sink_dropped_total"), 0);
    // hookd runs with HOOKD_LOG=debug here: the PostgreSQL client's own debug lines (every
    // statement with its parameters, i.e. whole batches of events) stay out of hookd's log.
    let log = d.log();
    assert!(
        !log.contains("executing statement") && !log.contains("echo 17"),
        "the PostgreSQL client logged the batches:\n{}",
        &log[log.len().saturating_sub(2000)..]
    );
}
