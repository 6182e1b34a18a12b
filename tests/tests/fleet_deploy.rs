//! What teams plug the fleet into, checked: the Prometheus alert rules with `promtool` (syntax
//! and the rule unit tests next to them), and every PostgreSQL query of the Grafana dashboard
//! run against a real PostgreSQL holding the central schema and events the real sink inserted.
//! Each skips loudly when its tool is missing (tests/fleet/install-pg.sh installs both).

use std::path::{Path, PathBuf};
use std::process::Command;

use hook_tests::pg::PgServer;
use hookd::fleet_pg::{Origin, OutEvent, Outcome, PgConfig, PgSink, apply_sql, schema_sql};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn promtool() -> Option<PathBuf> {
    let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|d| d.join("promtool"))
        .find(|p| p.exists());
    if found.is_none() {
        eprintln!(
            "SKIPPED: promtool is missing (Debian's prometheus: bash tests/fleet/install-pg.sh)"
        );
    }
    found
}

#[test]
fn alert_rules_pass_promtool_check_and_their_unit_tests() {
    let Some(promtool) = promtool() else { return };
    let dir = repo().join("deploy/prometheus");
    for args in [
        ["check", "rules", "hookd-alerts.yml"],
        ["test", "rules", "hookd-alerts.test.yml"],
    ] {
        let out = Command::new(&promtool)
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "promtool {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The dashboard's panels, row panels' children included.
fn panels(dash: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().expect("panels") {
        out.push(p);
        if let Some(children) = p["panels"].as_array() {
            out.extend(children);
        }
    }
    out
}

fn is_pg(ds: &Value) -> bool {
    ds["type"] == "grafana-postgresql-datasource" || ds["type"] == "postgres"
}

/// Grafana's macros and variables replaced by the plain SQL Grafana would send: the time
/// range as the last day, one-minute buckets, the machine variable as the test's hosts.
fn plain_sql(raw: &str) -> String {
    let mut s = raw.to_string();
    let with_arg = |s: &mut String, name: &str, to: &dyn Fn(&str) -> String| {
        while let Some(start) = s.find(name) {
            let open = start + name.len();
            assert_eq!(&s[open..=open], "(", "{name} without arguments in {raw}");
            let close = open + s[open..].find(')').expect("closing parenthesis");
            let arg = s[open + 1..close]
                .split(',')
                .next()
                .unwrap()
                .trim()
                .to_string();
            s.replace_range(start..=close, &to(&arg));
        }
    };
    with_arg(&mut s, "$__timeGroupAlias", &|col| {
        format!("to_timestamp(floor(extract(epoch FROM {col}) / 60) * 60) AS \"time\"")
    });
    with_arg(&mut s, "$__timeGroup", &|col| {
        format!("to_timestamp(floor(extract(epoch FROM {col}) / 60) * 60)")
    });
    with_arg(&mut s, "$__timeFilter", &|col| {
        format!("{col} BETWEEN now() - interval '1 day' AND now() + interval '1 minute'")
    });
    let s = s.replace("$host", "'laptop-7', 'other-host'");
    assert!(
        !s.contains('$'),
        "a macro or variable this test does not know: {s}"
    );
    s
}

#[test]
fn every_postgresql_query_of_the_dashboard_runs_on_the_schema_and_counts_right() {
    let text = std::fs::read_to_string(repo().join("deploy/grafana/hookd.json")).unwrap();
    let dash: Value = serde_json::from_str(&text).expect("hookd.json is JSON");
    let mut queries: Vec<(String, String)> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for p in panels(&dash) {
        assert!(
            ids.insert(p["id"].as_i64().expect("panel id")),
            "duplicate panel id"
        );
        for t in p["targets"].as_array().into_iter().flatten() {
            let ds = if t["datasource"].is_object() {
                &t["datasource"]
            } else {
                &p["datasource"]
            };
            if is_pg(ds) {
                let raw = t["rawSql"]
                    .as_str()
                    .expect("a PostgreSQL target has rawSql");
                queries.push((p["title"].as_str().unwrap().to_string(), raw.to_string()));
            } else {
                assert_eq!(
                    ds["type"], "prometheus",
                    "{}: unknown datasource",
                    p["title"]
                );
                assert!(t["expr"].as_str().is_some_and(|e| e.contains("hookd_")));
            }
        }
    }
    for v in dash["templating"]["list"].as_array().unwrap() {
        if is_pg(&v["datasource"]) {
            queries.push((
                format!("variable {}", v["name"].as_str().unwrap()),
                v["query"].as_str().unwrap().into(),
            ));
        }
    }
    assert!(queries.len() >= 8, "{} PostgreSQL queries", queries.len());

    let Some(pg) = PgServer::start() else { return };
    pg.query("postgres", "CREATE DATABASE fleet");
    let cfg = PgConfig {
        url: pg.url("postgres", "fleet"),
        password_file: None,
        ca_file: None,
        table: "hookd_events".into(),
        schema: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(apply_sql(&cfg, &schema_sql(&cfg).unwrap()))
        .unwrap();
    // 30 events over the last 30 minutes: every 5th a deny by two rules, three sessions.
    let now_ms = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    let batch: Vec<OutEvent> = (1..=30)
        .map(|id| OutEvent {
            id,
            time_ms: now_ms - (30 - id) * 60_000,
            session_id: Some(format!("sess-{}", id % 3)),
            event: "PreToolUse".into(),
            tool: Some("Bash".into()),
            project_dir: Some("/p".into()),
            verdict: if id % 5 == 0 { "deny" } else { "allow" }.into(),
            reason: None,
            rules: if id % 5 == 0 {
                vec!["no-rm-rf".into(), "guard".into()]
            } else {
                vec![]
            },
            latency_us: id * 10,
            source: "socket".into(),
            summary: Some(format!("cmd {id}")),
            redacted: vec![],
            prompt_id: None,
            tool_use_id: None,
            uid: 1000,
            payload: None,
        })
        .collect();
    let origin = Origin {
        host: "laptop-7".into(),
        store_id: "s1".into(),
        epoch: 0,
        labels: vec![],
    };
    let out = rt.block_on(PgSink::new(&cfg).unwrap().send(&origin, &batch));
    assert_eq!(out, Outcome::Delivered);

    let mut results = std::collections::HashMap::new();
    for (title, raw) in &queries {
        let sql = plain_sql(raw);
        let out = pg.psql_db("fleet", &sql).unwrap();
        assert!(
            out.status.success(),
            "panel {title:?}: {sql}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rows = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert!(!rows.is_empty(), "panel {title:?} returned no rows: {sql}");
        results.insert(title.clone(), rows);
    }
    assert_eq!(results["Events"], "30");
    assert_eq!(results["Denials"], "6");
    assert_eq!(
        results["Sessions"].lines().count(),
        3,
        "{}",
        results["Sessions"]
    );
    assert_eq!(results["Session count"], "3");
    assert_eq!(results["Machines reporting"], "1");
    assert_eq!(results["Denials by rule"], "guard|6\nno-rm-rf|6");
    assert_eq!(results["variable host"], "laptop-7");
    assert_eq!(results["Recent denials"].lines().count(), 6);
    let verdicts: i64 = results["Events by verdict"]
        .lines()
        .map(|l| l.rsplit('|').next().unwrap().parse::<i64>().unwrap())
        .sum();
    assert_eq!(verdicts, 30, "{}", results["Events by verdict"]);
}
