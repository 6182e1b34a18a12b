#!/usr/bin/env python3
"""Issue 4 benchmark: hookd with 10,000 live sessions.

Starts a release hookd in a temp HOOKD_HOME with stateful rules (read-before-edit, stop gate,
rate limit, counters), drives N sessions through the real hook-client (SessionStart, a Read,
an Edit of the read file, a Bash call: 4 events each, 8 clients in parallel), then reports
hookd's RSS and its per-event processing latency percentiles (`hookctl stats`; PreToolUse alone
from the events' store rows).

Usage: [PARALLEL=8] python3 bench/sessions.py [N]   (default 10000; PARALLEL clients at once;
build release binaries first:
  cargo build --release -p hookd -p hookctl -p hook-client)
"""
import json, os, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# HOOKD_BIN_DIR: another build's binaries (bench/ab_renovation.sh compares builds).
REL = os.environ.get("HOOKD_BIN_DIR") or os.path.join(ROOT, "target", "release")
N = int(sys.argv[1]) if len(sys.argv) > 1 else 10000
RULES = open(os.path.join(ROOT, "bench", "stateful-rules.toml")).read()

def main():
    home = tempfile.mkdtemp(prefix="hookd-sessions-")
    proj = tempfile.mkdtemp(prefix="proj-")
    open(os.path.join(proj, "lib.rs"), "w").write("x\n")
    open(os.path.join(home, "hookd.toml"), "w").write(RULES)
    env = dict(os.environ, HOOKD_HOME=home, HOOKD_LOG="warn")
    daemon = subprocess.Popen([os.path.join(REL, "hookd")], env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sock = os.path.join(home, "hookd.sock")
    for _ in range(500):
        if os.path.exists(sock):
            break
        time.sleep(0.01)
    client = os.path.join(REL, "hook-client")
    f = os.path.join(proj, "lib.rs")

    def session(i):
        sid = f"{i:08d}-bench-session"
        base = {"session_id": sid, "transcript_path": f"/tmp/t/{sid}.jsonl", "cwd": proj}
        evs = [
            dict(base, hook_event_name="SessionStart", source="startup"),
            dict(base, hook_event_name="PostToolUse", tool_name="Read", tool_use_id=f"r{i}",
                 tool_input={"file_path": f}, tool_response={"type": "text"}),
            dict(base, hook_event_name="PreToolUse", tool_name="Edit", tool_use_id=f"e{i}",
                 tool_input={"file_path": f, "old_string": "x", "new_string": "y"}),
            dict(base, hook_event_name="PreToolUse", tool_name="Bash", tool_use_id=f"b{i}",
                 tool_input={"command": "cargo test --workspace"}),
        ]
        for e in evs:
            subprocess.run([client], input=(json.dumps(e) + "\n").encode(), env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)

    t0 = time.time()
    with ThreadPoolExecutor(int(os.environ.get("PARALLEL", "8"))) as pool:
        list(pool.map(session, range(N)))
    took = time.time() - t0
    status = open(f"/proc/{daemon.pid}/status").read()
    rss = {l.split(":")[0]: l.split()[1] for l in status.splitlines() if l.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile"))}
    stats = json.loads(subprocess.run([os.path.join(REL, "hookctl"), "stats", "--json"], env=env,
                                      capture_output=True, check=True).stdout)
    # PreToolUse alone (the bar): each event's processing time is in its store row.
    store = json.loads(subprocess.run([os.path.join(REL, "hookctl"), "status", "--json"], env=env,
                                      capture_output=True, check=True).stdout)["hookd"]["store_path"]
    import sqlite3
    pre = sorted(r[0] for r in sqlite3.connect(store).execute(
        "SELECT latency_us FROM events WHERE event = 'PreToolUse'"))
    pct = lambda q: pre[min(len(pre) - 1, int(q * len(pre)))] if pre else None
    print(json.dumps({
        "sessions": N, "events": stats["events"], "wall_s": round(took, 1),
        "hookd_vm_rss_kb": int(rss["VmRSS"]), "hookd_vm_hwm_kb": int(rss["VmHWM"]),
        "hookd_rss_anon_kb": int(rss["RssAnon"]), "hookd_rss_file_kb": int(rss["RssFile"]),
        "processing_us": stats["processing_us"], "request_us": stats["request_us"],
        "pre_tool_use_processing_us": {"count": len(pre), "p50": pct(0.5), "p95": pct(0.95),
                                       "p99": pct(0.99)},
        "verdicts": stats["by_verdict"],
    }, indent=2))
    subprocess.run([os.path.join(REL, "hookctl"), "stop"], env=env, capture_output=True)
    daemon.wait(timeout=20)

if __name__ == "__main__":
    main()
