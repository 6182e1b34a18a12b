//! The dashboard's server side (docs/ui.md) against a live hookd with `[ui] listen` on port 0,
//! over raw HTTP/1.1 (so the tests set any `Host` or `Origin` they like): the routes and the
//! headers on every response; 421 for a `Host` that is not the listener's (DNS rebinding), 401
//! without a session, 403 for a reused, expired or unknown login code and for a cross-origin
//! `Origin`, 405 for anything but GET/HEAD; the JSON shapes, with agent text (HTML, quotes)
//! escaped; the event stream's framing and keepalive, its `Last-Event-ID` replay of exactly
//! the rows missed (across a restart of hookd too), its cap, and its end when hookd shuts
//! down; another uid cannot get a login code.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use hook_tests::harness::{TestDaemon, event_json, pause, wait_for};
use serde_json::{Value, json};

const RULES: &str = r#"
[[rule]]
name = "no-rm"
event = "PreToolUse"
tool = "Bash"
command = '\brm\b'
action = "deny"
reason = "no <b>rm</b> & \"friends\""
"#;

/// How long any single read may take before a test fails (an upper bound, never a measure).
const READ_LIMIT: Duration = Duration::from_secs(20);

fn toml(extra_ui: &str) -> String {
    format!("packs = []\n[ui]\nlisten = \"127.0.0.1:0\"\n{extra_ui}\n{RULES}")
}

/// A daemon with the dashboard on an ephemeral port.
struct Ui {
    d: TestDaemon,
    port: u16,
}

/// One HTTP response.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The headers every response carries.
    fn assert_secure(&self, what: &str) {
        assert_eq!(
            self.header("content-security-policy"),
            Some(
                "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                 connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
            ),
            "{what}: {self:?}"
        );
        assert_eq!(
            self.header("x-content-type-options"),
            Some("nosniff"),
            "{what}"
        );
        assert_eq!(
            self.header("referrer-policy"),
            Some("no-referrer"),
            "{what}"
        );
    }
}

/// Reads a response head: status and lower-cased headers.
fn read_head(r: &mut impl BufRead) -> (u16, Vec<(String, String)>) {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("header line");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (k, v) = l.split_once(':').expect("header");
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    (status, headers)
}

/// Reads one chunk of a chunked body (`None` at its end).
fn read_chunk(r: &mut impl BufRead) -> Option<Vec<u8>> {
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let size = usize::from_str_radix(line.trim(), 16).ok()?;
    let mut data = vec![0; size + 2];
    r.read_exact(&mut data).ok()?;
    data.truncate(size);
    (size > 0).then_some(data)
}

/// The dashboard's port, where users find it: `hookctl status` (and the log).
fn port_of(d: &TestDaemon) -> u16 {
    let status = d.status().unwrap();
    let url = status["hookd"]["ui_url"]
        .as_str()
        .unwrap_or_else(|| panic!("no ui_url in {status}"))
        .to_string();
    let port = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|r| r.strip_suffix("/ui/"))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{url}"));
    let human = d.hookctl(&["status"]).unwrap();
    assert!(
        String::from_utf8_lossy(&human.stdout).contains(&format!("dashboard  {url}")),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );
    assert!(d.log().contains(&format!("port={port}")), "{}", d.log());
    port
}

impl Ui {
    fn start(extra_ui: &str) -> Self {
        let d = TestDaemon::start_with(&[("hookd.toml", &toml(extra_ui))]).unwrap();
        Self::attach(d)
    }

    fn attach(d: TestDaemon) -> Self {
        let port = port_of(&d);
        Self { d, port }
    }

    /// Restarts hookd (same home; a new port).
    fn restart(&mut self) {
        self.d.signal_and_wait(libc::SIGTERM).unwrap();
        self.d.spawn().unwrap();
        self.port = port_of(&self.d);
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(READ_LIMIT)).unwrap();
        s
    }

    /// One request on a fresh connection, `Host` the listener's unless given.
    fn request(&self, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut s = self.connect();
        let mut req = format!("{method} {path} HTTP/1.1\r\nConnection: close\r\n");
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            req.push_str(&format!("Host: {}\r\n", self.host()));
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut r = BufReader::new(s);
        let (status, headers) = read_head(&mut r);
        let mut body = Vec::new();
        if headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
        {
            while let Some(c) = read_chunk(&mut r) {
                body.extend(c);
            }
        } else if method != "HEAD" {
            r.read_to_end(&mut body).unwrap();
        }
        Resp {
            status,
            headers,
            body,
        }
    }

    fn get(&self, path: &str, cookie: &str) -> Resp {
        self.request("GET", path, &[("Cookie", &format!("hookd_ui={cookie}"))])
    }

    /// `hookctl ui --print-url`'s path and query.
    fn login_path(&self) -> String {
        let out = self.d.hookctl(&["ui", "--print-url"]).unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let url = String::from_utf8(out.stdout).unwrap();
        let url = url.trim();
        let path = url
            .strip_prefix(&format!("http://{}", self.host()))
            .unwrap_or_else(|| panic!("{url}"));
        assert!(path.starts_with("/ui/login?code="), "{url}");
        let code = &path["/ui/login?code=".len()..];
        assert_eq!(code.len(), 32, "128 bits in hex: {code}");
        path.to_string()
    }

    /// Logs in: the session cookie's value.
    fn login(&self) -> String {
        let r = self.request("GET", &self.login_path(), &[]);
        assert_eq!(r.status, 303, "{r:?}");
        assert_eq!(r.header("location"), Some("/ui/"));
        let c = r.header("set-cookie").expect("a cookie");
        let (value, attrs) = c.split_once(';').unwrap();
        assert_eq!(
            attrs.trim(),
            "HttpOnly; SameSite=Strict; Path=/ui",
            "cookie attributes"
        );
        value.strip_prefix("hookd_ui=").unwrap().to_string()
    }

    fn hook(&self, session: &str, command: &str) {
        let out = self
            .d
            .hook(
                &event_json(
                    "PreToolUse",
                    session,
                    &json!({"tool_name": "Bash", "tool_input": {"command": command}}),
                ),
                &[],
            )
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Opens the event stream.
    fn stream(&self, cookie: &str, extra: &[(&str, &str)]) -> Result<Sse, Resp> {
        let mut s = self.connect();
        let mut req = format!(
            "GET /ui/api/stream HTTP/1.1\r\nHost: {}\r\nCookie: hookd_ui={cookie}\r\nAccept: text/event-stream\r\n",
            self.host()
        );
        for (k, v) in extra {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        s.write_all(req.as_bytes()).unwrap();
        let mut r = BufReader::new(s);
        let (status, headers) = read_head(&mut r);
        if status != 200 {
            let mut body = Vec::new();
            if let Some(len) = headers
                .iter()
                .find(|(k, _)| k == "content-length")
                .and_then(|(_, v)| v.parse::<usize>().ok())
            {
                body.resize(len, 0);
                r.read_exact(&mut body).unwrap();
            }
            return Err(Resp {
                status,
                headers,
                body,
            });
        }
        let resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        resp.assert_secure("stream");
        assert_eq!(resp.header("content-type"), Some("text/event-stream"));
        assert_eq!(resp.header("cache-control"), Some("no-store"));
        Ok(Sse { r, buf: Vec::new() })
    }
}

/// One message of an event stream.
#[derive(Debug, Clone, PartialEq)]
enum Msg {
    Event { id: i64, event: String, data: Value },
    Comment(String),
    Retry(u64),
}

struct Sse {
    r: BufReader<TcpStream>,
    buf: Vec<u8>,
}

impl Sse {
    /// The next message; `None` when the stream ended.
    fn next(&mut self) -> Option<Msg> {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\n\n") {
                let block: Vec<u8> = self.buf.drain(..end + 2).collect();
                let text = String::from_utf8(block).unwrap();
                return Some(parse_block(text.trim_end_matches('\n')));
            }
            let chunk = read_chunk(&mut self.r)?;
            self.buf.extend(chunk);
        }
    }

    /// The next event (skipping comments and `retry:`), failing past [`READ_LIMIT`].
    fn event(&mut self) -> (i64, Value) {
        let start = std::time::Instant::now();
        loop {
            assert!(
                start.elapsed() < READ_LIMIT,
                "no event within {READ_LIMIT:?} (only keepalives)"
            );
            match self.next() {
                Some(Msg::Event { id, event, data }) => {
                    assert_eq!(event, "ev");
                    assert_eq!(data["id"], id, "data carries the same id");
                    return (id, data);
                }
                Some(_) => {}
                None => panic!("the stream ended"),
            }
        }
    }
}

fn parse_block(text: &str) -> Msg {
    let mut id = None;
    let mut event = None;
    let mut data = None;
    for line in text.split('\n') {
        if let Some(c) = line.strip_prefix(':') {
            assert_eq!(text.lines().count(), 1, "a comment alone: {text:?}");
            return Msg::Comment(c.trim().to_string());
        }
        let (k, v) = line.split_once(": ").unwrap_or_else(|| panic!("{line:?}"));
        match k {
            "retry" => return Msg::Retry(v.parse().unwrap()),
            "id" => id = Some(v.parse().unwrap()),
            "event" => event = Some(v.to_string()),
            "data" => {
                assert!(data.is_none(), "one data line: {text:?}");
                data = Some(serde_json::from_str(v).unwrap());
            }
            _ => panic!("unexpected field {k} in {text:?}"),
        }
    }
    Msg::Event {
        id: id.expect("id"),
        event: event.expect("event"),
        data: data.expect("data"),
    }
}

#[test]
fn routes_checks_and_the_headers_on_every_response() {
    let ui = Ui::start("");
    let cookie = ui.login();
    let page = ui.request("GET", "/ui/", &[]);
    assert_eq!(page.status, 200);
    page.assert_secure("page");
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    assert!(page.text().contains("id=\"conn\""), "the embedded page");
    let tag = page.header("etag").unwrap().to_string();
    let again = ui.request("GET", "/ui/", &[("If-None-Match", &tag)]);
    assert_eq!(again.status, 304);
    again.assert_secure("304");
    for (path, ty) in [
        ("/ui/app.js", "text/javascript; charset=utf-8"),
        ("/ui/app.css", "text/css; charset=utf-8"),
    ] {
        let r = ui.request("GET", path, &[]);
        assert_eq!(
            (r.status, r.header("content-type")),
            (200, Some(ty)),
            "{path}"
        );
        r.assert_secure(path);
    }
    let head = ui.request("HEAD", "/ui/", &[]);
    assert_eq!(head.status, 200);
    head.assert_secure("HEAD");
    let r = ui.request("GET", "/ui", &[]);
    assert_eq!((r.status, r.header("location")), (303, Some("/ui/")));

    // Data needs a session, and says so in JSON.
    for cookie_header in [None, Some("hookd_ui=00"), Some(&*format!("other={cookie}"))] {
        let headers: Vec<(&str, &str)> = cookie_header.map(|c| ("Cookie", c)).into_iter().collect();
        let r = ui.request("GET", "/ui/api/overview", &headers);
        assert_eq!(r.status, 401, "{cookie_header:?}: {r:?}");
        r.assert_secure("401");
        assert!(r.json()["error"].is_string());
        assert_eq!(r.header("cache-control"), Some("no-store"));
    }
    let ok = ui.get("/ui/api/overview", &cookie);
    assert_eq!(ok.status, 200, "{ok:?}");
    ok.assert_secure("api");
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    assert_eq!(ok.header("content-type"), Some("application/json"));

    // Host: only the listener's own loopback names with its port (421 otherwise: a DNS name
    // rebound to 127.0.0.1 sends its own name).
    let c = format!("hookd_ui={cookie}");
    for host in [
        "attacker.example".to_string(),
        format!("attacker.example:{}", ui.port),
        format!("127.0.0.1:{}", ui.port + 1),
        "127.0.0.1".to_string(),
        format!("127.0.0.2:{}", ui.port),
    ] {
        for path in ["/ui/", "/ui/api/overview"] {
            let r = ui.request("GET", path, &[("Host", &host), ("Cookie", &c)]);
            assert_eq!(r.status, 421, "{host} {path}: {r:?}");
            r.assert_secure("421");
            assert!(!r.text().contains("events"), "nothing leaks: {}", r.text());
        }
    }
    for host in [
        format!("localhost:{}", ui.port),
        format!("LOCALHOST:{}", ui.port),
        format!("[::1]:{}", ui.port),
    ] {
        let r = ui.request(
            "GET",
            "/ui/api/overview",
            &[("Host", &host), ("Cookie", &c)],
        );
        assert_eq!(r.status, 200, "{host}");
    }
    // Origin: only this very origin.
    for origin in [
        "http://attacker.example".to_string(),
        "null".to_string(),
        format!("https://127.0.0.1:{}", ui.port),
        format!("http://localhost:{}", ui.port),
    ] {
        let r = ui.request(
            "GET",
            "/ui/api/overview",
            &[("Origin", &origin), ("Cookie", &c)],
        );
        assert_eq!(r.status, 403, "{origin}: {r:?}");
        r.assert_secure("403");
    }
    let same = format!("http://127.0.0.1:{}", ui.port);
    let r = ui.request(
        "GET",
        "/ui/api/overview",
        &[("Origin", &same), ("Cookie", &c)],
    );
    assert_eq!(r.status, 200);
    // Read-only.
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let r = ui.request(
            method,
            "/ui/api/overview",
            &[("Cookie", &c), ("Content-Length", "0")],
        );
        assert_eq!(r.status, 405, "{method}");
        assert_eq!(r.header("allow"), Some("GET, HEAD"));
        r.assert_secure("405");
    }
    let r = ui.get("/ui/api/nothing", &cookie);
    assert_eq!(r.status, 404);
    r.assert_secure("404");
    let r = ui.request("GET", "/etc/passwd", &[]);
    assert_eq!(r.status, 404);
    assert!(ui.d.log().contains("dashboard request refused"));
}

#[test]
fn a_login_code_works_once_and_not_after_its_time() {
    let ui = Ui::start("");
    let path = ui.login_path();
    let first = ui.request("GET", &path, &[]);
    assert_eq!(first.status, 303);
    let reused = ui.request("GET", &path, &[]);
    assert_eq!(reused.status, 403, "{reused:?}");
    reused.assert_secure("403 login");
    assert!(reused.header("set-cookie").is_none());
    assert!(reused.text().contains("hookctl ui"), "says what to do");
    for bad in [
        "/ui/login?code=00000000000000000000000000000000",
        "/ui/login?code=xyz",
        "/ui/login",
    ] {
        let r = ui.request("GET", bad, &[]);
        assert_eq!(r.status, 403, "{bad}");
    }
    // Two codes are independent and each works once.
    let (a, b) = (ui.login_path(), ui.login_path());
    assert_ne!(a, b);
    assert_eq!(ui.request("GET", &b, &[]).status, 303);
    assert_eq!(ui.request("GET", &a, &[]).status, 303);

    // Expiry, with `[ui] code_ttl` shortened (it cannot be lengthened past 60 s).
    let short = Ui::start("code_ttl = \"100ms\"");
    let path = short.login_path();
    pause(Duration::from_millis(300));
    let r = short.request("GET", &path, &[]);
    assert_eq!(r.status, 403, "expired: {r:?}");
    assert!(short.d.log().contains("expired"), "{}", short.d.log());

    // With the dashboard off, `hookctl ui` says how to turn it on.
    let off = TestDaemon::start_with(&[("hookd.toml", "packs = []\n")]).unwrap();
    let out = off.hookctl(&["ui", "--print-url"]).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[ui] listen"), "{err}");
    assert!(off.status().unwrap()["hookd"]["ui_url"].is_null());
}

#[test]
fn views_have_their_shapes_and_agent_text_comes_back_escaped() {
    let ui = Ui::start("");
    let cookie = ui.login();
    let nasty = "rm -rf \"</script><script>alert('x')</script>\" && echo <b>&amp;";
    ui.hook("sess-a", nasty);
    ui.hook("sess-a", "ls -la");
    let api = |path: &str| {
        let r = ui.get(path, &cookie);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        let text = r.text();
        for raw in ['<', '>', '&'] {
            assert!(!text.contains(raw), "{path}: a raw {raw:?} in {text}");
        }
        r.json()
    };
    let keys = |v: &Value| -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    let o = api("/ui/api/overview");
    assert_eq!(
        keys(&o),
        [
            "now_ms",
            "sessions_active",
            "sinks",
            "stats",
            "status",
            "store_bytes",
            "tz_offset_min"
        ]
    );
    assert_eq!(o["sinks"], json!([]));
    assert_eq!(o["stats"]["events"], 2);
    assert!(o["status"]["ui_url"].is_string());

    let ev = api("/ui/api/events?limit=10");
    let rows = ev["events"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0]["id"].as_i64() > rows[1]["id"].as_i64(),
        "newest first"
    );
    let deny = &rows[1];
    assert_eq!(deny["summary"], nasty, "the exact text after JSON.parse");
    assert_eq!(deny["verdict"], "deny");
    assert!(deny["payload"].is_null(), "no payload in lists");
    let id = deny["id"].as_i64().unwrap();
    let older = api(&format!("/ui/api/events?before_id={}", rows[0]["id"]));
    assert_eq!(older["events"].as_array().unwrap().len(), 1);
    let filtered = api("/ui/api/events?verdict=deny&session=sess-a&rule=no-rm&tool=Bash");
    assert_eq!(filtered["events"].as_array().unwrap().len(), 1);

    let one = api(&format!("/ui/api/events/{id}"));
    assert_eq!(keys(&one), ["event", "matched"]);
    let payload: Value = serde_json::from_str(one["event"]["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["tool_input"]["command"], nasty);
    let m = &one["matched"][0];
    assert_eq!(m["name"], "no-rm");
    assert!(m["source"].as_str().unwrap().ends_with("hookd.toml"));
    let rule_line = toml("").lines().position(|l| l == "[[rule]]").unwrap() + 1;
    assert_eq!(m["line"], rule_line, "the [[rule]] line in hookd.toml");
    assert_eq!(ui.get("/ui/api/events/999999", &cookie).status, 404);

    let lat = api("/ui/api/latency?minutes=60&step=60");
    assert_eq!(lat["step_s"], 60);
    let points = lat["points"].as_array().unwrap();
    assert_eq!(points.len(), 60);
    let counted: u64 = points.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, 2);
    let p = points.iter().find(|p| p["count"] != 0).unwrap();
    assert_eq!(keys(p), ["count", "p50", "p95", "p99", "t_ms"]);
    assert!(p["p50"].as_u64().unwrap() > 0);
    let v = api("/ui/api/verdicts?minutes=60&step=60");
    let total: u64 = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["counts"]["deny"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(total, 1);

    let s = api("/ui/api/sessions?limit=100");
    assert_eq!(s["sessions"][0]["id"], "sess-a");
    assert_eq!(s["sessions"][0]["events"], 2);
    let one = api("/ui/api/sessions/sess-a");
    assert_eq!(keys(&one), ["row", "state_json", "timeline"]);
    assert_eq!(one["timeline"].as_array().unwrap().len(), 2);
    assert_eq!(ui.get("/ui/api/sessions/none-such", &cookie).status, 404);

    let d = api("/ui/api/denials?minutes=1440");
    let g = &d["groups"][0];
    assert_eq!(
        keys(g),
        ["count", "examples", "last_ms", "reason", "rule", "verdict"]
    );
    assert_eq!(
        (g["rule"].as_str(), g["count"].as_u64()),
        (Some("no-rm"), Some(1))
    );
    let ex = &g["examples"][0];
    assert_eq!(
        keys(ex),
        [
            "allow_code",
            "explain",
            "id",
            "session_id",
            "summary",
            "time_ms"
        ]
    );
    assert_eq!(
        ex["explain"].as_str().unwrap(),
        format!("hookctl explain '{}'", nasty.replace('\'', r"'\''"))
    );
    let code = ex["allow_code"].as_str().unwrap();
    assert!(
        g["reason"]
            .as_str()
            .unwrap()
            .ends_with(&format!("hookctl allow {code})"))
    );

    let r = api("/ui/api/rules");
    assert_eq!(r["errors"], json!([]));
    let rule = &r["rules"][0];
    assert_eq!(rule["name"], "no-rm");
    assert_eq!(rule["line"], rule_line);
    assert_eq!(rule["event"], json!(["PreToolUse"]));
    let hourly = rule["hourly"].as_array().unwrap();
    assert_eq!(hourly.len(), 24);
    assert_eq!(hourly[23], 1, "this hour, last");
    assert_eq!(api("/ui/api/runs?limit=10&failed=1")["runs"], json!([]));
}

#[test]
fn the_stream_frames_events_keeps_alive_and_replays_exactly_what_was_missed() {
    let mut ui = Ui::start("keepalive = \"300ms\"");
    let cookie = ui.login();
    ui.hook("before", "ls before");
    let mut sse = ui.stream(&cookie, &[]).unwrap();
    assert_eq!(sse.next(), Some(Msg::Retry(1000)));
    // Without Last-Event-ID it starts live: the row stored before is not sent.
    for i in 0..3 {
        ui.hook("live", &format!("ls {i}"));
    }
    let got: Vec<(i64, Value)> = (0..3).map(|_| sse.event()).collect();
    let ids: Vec<i64> = got.iter().map(|(id, _)| *id).collect();
    assert_eq!(ids, [2, 3, 4]);
    assert_eq!(got[0].1["summary"], "ls 0");
    assert!(got[0].1["payload"].is_null());
    // Nothing happens: keepalive comments.
    let mut comments = 0;
    while comments < 2 {
        match sse.next() {
            Some(Msg::Comment(c)) => {
                assert_eq!(c, "ka");
                comments += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    drop(sse);

    // Missed while disconnected, and across a restart of hookd.
    ui.hook("gap", "ls gap-1");
    ui.hook("gap", "rm gap-2");
    ui.restart();
    ui.hook("gap", "ls gap-3");
    let cookie = ui.login();
    let mut sse = ui.stream(&cookie, &[("Last-Event-ID", "4")]).unwrap();
    let replayed: Vec<i64> = (0..3).map(|_| sse.event().0).collect();
    assert_eq!(replayed, [5, 6, 7], "exactly the missed rows, in order");
    ui.hook("gap", "ls after");
    let (id, row) = sse.event();
    assert_eq!(
        (id, row["summary"].as_str()),
        (8, Some("ls after")),
        "then live, no gap"
    );
    drop(sse);
    // `?last_id=` works the same, for clients that cannot set the header.
    let mut sse = ui
        .request_stream_path(&cookie, "/ui/api/stream?last_id=6")
        .unwrap();
    assert_eq!(sse.event().0, 7);
    assert_eq!(sse.event().0, 8);
}

impl Ui {
    fn request_stream_path(&self, cookie: &str, path: &str) -> Option<Sse> {
        let mut s = self.connect();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: hookd_ui={cookie}\r\n\r\n",
            self.host()
        )
        .unwrap();
        let mut r = BufReader::new(s);
        let (status, _) = read_head(&mut r);
        (status == 200).then(|| Sse { r, buf: Vec::new() })
    }
}

#[test]
fn streams_are_capped_and_end_when_hookd_shuts_down() {
    let mut ui = Ui::start("");
    let cookie = ui.login();
    let mut open: Vec<Sse> = (0..16)
        .map(|i| {
            let mut s = ui
                .stream(&cookie, &[])
                .unwrap_or_else(|r| panic!("stream {i}: {r:?}"));
            assert_eq!(s.next(), Some(Msg::Retry(1000)));
            s
        })
        .collect();
    let refused = ui.stream(&cookie, &[]).err().expect("a 17th stream");
    assert_eq!(refused.status, 503, "{refused:?}");
    refused.assert_secure("503");
    assert!(String::from_utf8_lossy(&refused.body).contains("16"));
    // A closed stream frees its place.
    drop(open.pop());
    wait_for(Duration::from_secs(10), "a freed stream place", || {
        ui.stream(&cookie, &[]).map(|s| open.push(s)).is_ok()
    })
    .unwrap();
    // hookd stops with every stream open: each ends, and hookd exits without waiting out
    // its grace period (which it would log).
    ui.d.signal_and_wait(libc::SIGTERM).unwrap();
    for s in &mut open {
        while let Some(m) = s.next() {
            assert!(!matches!(m, Msg::Event { .. }), "{m:?}");
        }
    }
    let log = ui.d.log();
    assert!(!log.contains("within the grace period"), "{log}");
    assert!(log.contains("hookd stopped"), "{log}");
}

#[test]
fn another_user_cannot_get_a_login_code() {
    if hook_protocol::paths::uid() != 0 {
        eprintln!("SKIPPED: needs root to act as another uid");
        return;
    }
    let ui = Ui::start("");
    let frame = hook_protocol::frame::encode_message(&hook_protocol::Request::UiLogin).unwrap();
    let (seen, stderr) = hook_tests::harness::send_as_another_uid(&ui.d, &frame);
    assert_eq!(seen, "closed", "{stderr}");
    wait_for(Duration::from_secs(5), "refusal logged", || {
        ui.d.log()
            .contains("refused a connection from another user")
    })
    .unwrap();
    assert!(
        !ui.d.log().contains("dashboard login code issued"),
        "{}",
        ui.d.log()
    );
    // The owner gets one the same way.
    let _ = ui.login();
    assert!(ui.d.log().contains("dashboard login code issued"));
}

#[test]
fn the_overview_lists_the_fleet_sinks_with_their_lag() {
    // Port 9 (discard) on loopback: nothing listens, so the sink fails and its events wait.
    let ui = Ui::start(
        "[sink.central]\nkind = \"otlp\"\nendpoint = \"http://127.0.0.1:9/v1/logs\"\nlinger = \"10ms\"\n",
    );
    let cookie = ui.login();
    ui.hook("sess-s", "ls -la");
    let r = ui.get("/ui/api/overview", &cookie);
    assert_eq!(r.status, 200, "{}", r.text());
    let o = r.json();
    let sinks = o["sinks"].as_array().expect("sinks");
    assert_eq!(sinks.len(), 1, "{o}");
    assert_eq!(sinks[0]["name"], "central");
    assert_eq!(sinks[0]["kind"], "otlp");
    assert_eq!(
        sinks[0], o["status"]["sinks"][0],
        "the same report as hookctl status"
    );
}
