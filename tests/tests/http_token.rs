//! `hookctl install --http` in one command: the token goes into the `env` of a settings file only
//! the user reads (the project's `settings.local.json` for `--project`, the user's own settings
//! for a user install, mode 0600), never into a file a project commits, and never onto the
//! screen; `uninstall` takes it out again; `hookctl http rotate-token` gives every such file and
//! the running hookd a new token, after which the old one is refused.
//!
//! The real CLI expanding it from the settings (no exported variable) is in
//! real_client_http.rs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use hook_tests::harness::{TestDaemon, wait_for};
use serde_json::{Value, json};

const TOKEN_ENV: &str = "HOOKD_HTTP_BEARER";

fn read_json(p: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
        .unwrap()
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn token(d: &TestDaemon) -> String {
    std::fs::read_to_string(d.home().join("state/http-token"))
        .unwrap()
        .trim()
        .to_string()
}

fn ok(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Whether any `http` hook in `v` is one `install --http` wrote.
fn has_http_hooks(v: &Value) -> bool {
    v["hooks"]
        .as_object()
        .into_iter()
        .flat_map(|h| h.values())
        .flat_map(|g| g.as_array().cloned().unwrap_or_default())
        .flat_map(|g| g["hooks"].as_array().cloned().unwrap_or_default())
        .any(|h| h["type"] == "http")
}

#[test]
fn install_http_puts_the_token_where_only_the_user_reads_it() {
    let d =
        TestDaemon::unstarted(&[("hookd.toml", "[http]\nlisten = \"127.0.0.1:8787\"\n")]).unwrap();
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().to_str().unwrap();
    let shared = project.path().join(".claude/settings.json");
    let local = project.path().join(".claude/settings.local.json");

    // A dry run shows where the token would go, but not the token.
    let out = ok(&d
        .hookctl(&["install", "--http", "--project", "--dir", dir, "--dry-run"])
        .unwrap());
    assert!(out.contains("<hookd's HTTP token>"), "{out}");
    assert!(!shared.exists() && !local.exists());

    // --project: hooks in the shared file, the token in the personal one (0600).
    let out = ok(&d
        .hookctl(&["install", "--http", "--project", "--dir", dir, "--json"])
        .unwrap());
    let report: Value = serde_json::from_str(&out).unwrap();
    let t = token(&d);
    assert_eq!(t.len(), 64, "hookctl created the token file as hookd would");
    assert_eq!(mode(&d.home().join("state/http-token")), 0o600);
    assert!(!out.contains(&t), "the report shows the token: {out}");
    assert_eq!(report["token_settings"]["change"], json!("set"), "{report}");
    assert!(
        report["token_settings"]["file"]
            .as_str()
            .unwrap()
            .ends_with(".claude/settings.local.json"),
        "{report}"
    );
    let shared_text = std::fs::read_to_string(&shared).unwrap();
    assert!(!shared_text.contains(&t), "token in the shared file");
    assert!(has_http_hooks(&read_json(&shared)));
    assert_eq!(read_json(&local)["env"][TOKEN_ENV], json!(t));
    assert_eq!(mode(&local), 0o600);
    // Idempotent.
    let again: Value = serde_json::from_str(&ok(&d
        .hookctl(&["install", "--http", "--project", "--dir", dir, "--json"])
        .unwrap()))
    .unwrap();
    assert_eq!(again["token_settings"]["change"], json!("none"), "{again}");
    assert_eq!(again["changed"], json!(false), "{again}");

    // A dry run of the uninstall shows the token's line going, but not the token.
    let out = ok(&d
        .hookctl(&["uninstall", "--project", "--dir", dir, "--dry-run"])
        .unwrap());
    assert!(!out.contains(&t), "the diff shows the token: {out}");
    assert!(out.contains("<hookd's HTTP token>"), "{out}");

    // Uninstall takes out the hooks and the token.
    let out = ok(&d
        .hookctl(&["uninstall", "--project", "--dir", dir])
        .unwrap());
    assert!(out.contains("HOOKD_HTTP_BEARER removed from"), "{out}");
    assert!(!has_http_hooks(&read_json(&shared)));
    assert!(
        read_json(&local).get("env").is_none(),
        "{}",
        read_json(&local)
    );

    // A user install: the user's own settings, made private when they were not.
    let user = d.home().join(".claude/settings.json");
    std::fs::create_dir_all(user.parent().unwrap()).unwrap();
    std::fs::write(
        &user,
        "{\n  \"model\": \"opus\",\n  \"env\": {\"A\": \"1\"}\n}\n",
    )
    .unwrap();
    std::fs::set_permissions(&user, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ok(&d.hookctl(&["install", "--http"]).unwrap());
    assert!(out.contains("mode went from 0644 to 0600"), "{out}");
    let v = read_json(&user);
    assert_eq!(v["env"], json!({"A": "1", TOKEN_ENV: t}), "{v}");
    assert_eq!(v["model"], json!("opus"));
    assert!(has_http_hooks(&v));
    assert_eq!(mode(&user), 0o600);
    // Switching back to hook-client takes the token out (nothing uses it).
    ok(&d.hookctl(&["install"]).unwrap());
    let v = read_json(&user);
    assert_eq!(v["env"], json!({"A": "1"}), "{v}");
    assert!(!has_http_hooks(&v));

    // --local: hooks and token in the personal file.
    let other = tempfile::tempdir().unwrap();
    let odir = other.path().to_str().unwrap();
    ok(&d
        .hookctl(&["install", "--http", "--local", "--dir", odir])
        .unwrap());
    let olocal = other.path().join(".claude/settings.local.json");
    let v = read_json(&olocal);
    assert!(has_http_hooks(&v) && v["env"][TOKEN_ENV] == json!(t), "{v}");
    assert_eq!(mode(&olocal), 0o600);
    assert!(!other.path().join(".claude/settings.json").exists());
}

/// `GET /health` on the listener with `token`: the status code.
fn health(port: u16, token: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /health HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = s.read_to_string(&mut text);
    text.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP answer: {text:?}"))
}

#[test]
fn rotate_token_updates_the_settings_and_the_running_daemon() {
    let d =
        TestDaemon::start_with(&[("hookd.toml", "[http]\nlisten = \"127.0.0.1:0\"\n")]).unwrap();
    let port_file = d.home().join("state/http-port");
    wait_for(Duration::from_secs(10), "the http-port file", || {
        std::fs::read_to_string(&port_file).is_ok_and(|s| s.ends_with('\n'))
    })
    .unwrap();
    let port: u16 = std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/hook");
    let project = tempfile::tempdir().unwrap();
    let dir = project.path().to_str().unwrap();
    ok(&d
        .hookctl(&[
            "install",
            "--http",
            "--http-url",
            &url,
            "--project",
            "--dir",
            dir,
        ])
        .unwrap());
    ok(&d
        .hookctl(&["install", "--http", "--http-url", &url])
        .unwrap());
    let local = project.path().join(".claude/settings.local.json");
    let user = d.home().join(".claude/settings.json");
    let old = token(&d);
    assert_eq!(health(port, &old), 200);

    let out = ok(&d.hookctl(&["http", "rotate-token", "--json"]).unwrap());
    let report: Value = serde_json::from_str(&out).unwrap();
    let new = token(&d);
    assert_ne!(new, old);
    assert_eq!(new.len(), 64);
    assert_eq!(mode(&d.home().join("state/http-token")), 0o600);
    assert!(!out.contains(&new) && !out.contains(&old), "{out}");
    // Both files hookctl gave the token have the new one.
    for f in [&local, &user] {
        assert_eq!(
            read_json(f)["env"][TOKEN_ENV],
            json!(new),
            "{}",
            f.display()
        );
        assert_eq!(mode(f), 0o600);
    }
    let states: Vec<&str> = report["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["updated", "updated"], "{report}");
    // The running hookd took it: the new token is served, the old one refused.
    assert!(
        report["hookd"]
            .as_str()
            .unwrap()
            .contains("took the new token"),
        "{report}"
    );
    assert_eq!(health(port, &new), 200);
    assert_eq!(health(port, &old), 403);
    assert!(
        d.log().contains("HTTP token changed"),
        "hookd says so: {}",
        d.log()
    );
}
