#!/usr/bin/env python3
"""Issue 5 benchmark: `hookctl events` queries on a store holding 1,000,000 events.

Starts a release hookd in a temp HOOKD_HOME so that it creates the store (its migrations, its
page size), stops it, writes N PreToolUse events straight into the `events` table (2,000
sessions, one event every 2.6 s over 30 days, the 471-byte benchmark payload), starts hookd
again and times each query as a whole `hookctl` process (median of 5 runs). Also reports the
store's bytes per event.

Usage: python3 bench/store_queries.py [N]   (default 1000000; build release binaries first:
  cargo build --release -p hookd -p hookctl)
"""
import json, os, sqlite3, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REL = os.path.join(ROOT, "target", "release")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
PAYLOAD = open(os.path.join(ROOT, "bench", "payloads", "pre_tool_use_bash.json"), "rb").read()
SESSIONS = 2000
QUERIES = [
    ["events", "--session", "sess-0042", "--limit", "50"],
    ["events", "--since", "1h", "--limit", "50"],
    ["events", "--session", "sess-0042", "--since", "1h"],
]


def start(env):
    d = subprocess.Popen([os.path.join(REL, "hookd")], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(500):
        if subprocess.run([os.path.join(REL, "hookctl"), "status"], env=env,
                          capture_output=True).returncode == 0:
            return d
        time.sleep(0.02)
    d.kill()
    sys.exit("hookd did not start")


def stop(d):
    d.terminate()
    d.wait(timeout=30)


def main():
    home = tempfile.mkdtemp(prefix="hookd-queries-")
    env = dict(os.environ, HOOKD_HOME=home, HOOKD_LOG="warn", HOOKD_NO_AUTOSTART="1")
    db = os.path.join(home, "data", "hookd.db")
    env["HOOKD_DB"] = db
    stop(start(env))
    conn = sqlite3.connect(db)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    now_ms = int(time.time() * 1000)
    step_ms = 2600
    first = now_ms - N * step_ms

    def rows():
        for i in range(N):
            sid = f"sess-{i % SESSIONS:04d}"
            yield (first + i * step_ms, sid, "PreToolUse", "Bash", "/home/dev/src/acme-api",
                   PAYLOAD, "none", None, "[]", 12, "socket", None,
                   "cargo test --workspace --all-features 2>&1 | tail -n 40", None)

    t = time.time()
    with conn:
        conn.executemany(
            "INSERT INTO events (time_ms, session_id, event, tool, project_dir, payload, verdict,"
            " reason, rules, latency_us, source, spool_id, summary, redacted)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows())
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = os.path.getsize(db)
    d = start(env)
    out = {"events": N, "page_size": page_size, "insert_s": round(time.time() - t, 1),
           "bytes_per_event": round(size / N), "queries_ms": {}}
    try:
        for q in QUERIES:
            times = []
            for _ in range(5):
                t0 = time.perf_counter()
                r = subprocess.run([os.path.join(REL, "hookctl"), *q], env=env,
                                   capture_output=True)
                times.append((time.perf_counter() - t0) * 1000)
                if r.returncode != 0:
                    sys.exit(f"hookctl {' '.join(q)} failed: {r.stderr.decode()}")
            out["queries_ms"][" ".join(q)] = round(statistics.median(times), 1)
    finally:
        stop(d)
        subprocess.run(["rm", "-rf", home])
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
