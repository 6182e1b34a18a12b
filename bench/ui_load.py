"""The dashboard's first load: time and bytes, measured in Debian's chromium with Playwright.

Starts a private hookd (fresh HOOKD_HOME, `[ui] listen = "127.0.0.1:0"`), stores --events
events through the real hook-client, then --runs times opens the page in a new browser context
(empty cache, a new login code each time) and reports:

  - load:  navigation start to the `load` event (index.html, app.js, app.css parsed and run);
  - live:  the click on the login URL to `#conn` saying live with the history's rows shown
           (the 303 login redirect, the page, /ui/api/events, /ui/api/overview and friends,
           the SSE stream open);
  - bytes: what went over the wire for the page (navigation + every resource the browser
           finished loading, headers included: PerformanceResourceTiming.transferSize) and the
           encoded body sizes.

    python bench/ui_load.py --bin target/release [--events 200] [--runs 7]

Needs bash tests/ui/install.sh (chromium + Playwright); run it with the venv's python.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

from playwright.sync_api import expect, sync_playwright


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release")
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    b = os.path.abspath(args.bin)
    home = tempfile.mkdtemp(prefix="hookd-ui-bench.")
    with open(os.path.join(home, "hookd.toml"), "w") as f:
        f.write('[ui]\nlisten = "127.0.0.1:0"\n')
    env = dict(os.environ, HOOKD_HOME=home, HOOKD_NO_AUTOSTART="1", HOOKD_LOG="warn")
    log = open(os.path.join(home, "hookd.log"), "w")
    hookd = subprocess.Popen([os.path.join(b, "hookd")], env=env, stderr=log, stdout=subprocess.DEVNULL)
    try:
        url = None
        for _ in range(2000):
            out = subprocess.run([os.path.join(b, "hookctl"), "ui", "--print-url"], env=env, capture_output=True)
            if out.returncode == 0:
                url = out.stdout.decode().strip()
                break
            time.sleep(0.01)
        if not url:
            sys.exit("hookd did not come up with [ui] listen: " + open(os.path.join(home, "hookd.log")).read())
        cmds = ["ls -la", "cargo test", "git status", "rm -rf build", "cat README.md"]
        for i in range(args.events):
            ev = {"session_id": f"bench-{i % 4}", "transcript_path": "/tmp/t.jsonl", "cwd": "/tmp/project",
                  "hook_event_name": "PreToolUse", "tool_name": "Bash",
                  "tool_input": {"command": cmds[i % len(cmds)] + f" # {i}"}, "tool_use_id": f"toolu_{i}"}
            subprocess.run([os.path.join(b, "hook-client")], input=json.dumps(ev).encode(), env=env,
                           capture_output=True, check=False)
        loads, lives, transfers, bodies = [], [], [], []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=[
                "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"])
            for run in range(args.runs + 1):
                login = subprocess.run([os.path.join(b, "hookctl"), "ui", "--print-url"], env=env,
                                       capture_output=True, check=True).stdout.decode().strip()
                ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                page = ctx.new_page()
                t0 = time.perf_counter()
                page.goto(login)
                expect(page.locator("#conn")).to_have_text("live", timeout=30_000)
                page.click("#tab-stream")
                expect(page.locator("tr.ev")).to_have_count(min(args.events, 200), timeout=30_000)
                live = (time.perf_counter() - t0) * 1000
                nav = page.evaluate("() => performance.getEntriesByType('navigation')[0].toJSON()")
                res = page.evaluate("() => performance.getEntriesByType('resource').map(r => r.toJSON())")
                done = [r for r in res if r.get("responseEnd", 0) > 0]
                transfer = nav["transferSize"] + sum(r["transferSize"] for r in done)
                body = nav["encodedBodySize"] + sum(r["encodedBodySize"] for r in done)
                if run == 0:
                    print("resources:", ", ".join(f"{r['name'].split('/ui/')[-1]} {r['transferSize']} B"
                                                   for r in done), file=sys.stderr)
                else:  # the first run warms chromium itself up
                    loads.append(nav["loadEventEnd"])
                    lives.append(live)
                    transfers.append(transfer)
                    bodies.append(body)
                ctx.close()
            browser.close()
        med = statistics.median
        print(json.dumps({
            "runs": args.runs, "events_stored": args.events,
            "load_ms_median": round(med(loads), 1), "load_ms_min": round(min(loads), 1), "load_ms_max": round(max(loads), 1),
            "live_ms_median": round(med(lives), 1), "live_ms_min": round(min(lives), 1), "live_ms_max": round(max(lives), 1),
            "transfer_bytes": int(med(transfers)), "encoded_body_bytes": int(med(bodies)),
        }, indent=2))
    finally:
        hookd.send_signal(signal.SIGTERM)
        try:
            hookd.wait(timeout=20)
        except subprocess.TimeoutExpired:
            hookd.kill()
            hookd.wait()
        subprocess.run(["rm", "-rf", home], check=False)


if __name__ == "__main__":
    main()
