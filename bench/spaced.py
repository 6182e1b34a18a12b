#!/usr/bin/env python3
"""Hooks that come seconds apart, as in a Claude Code session: the whole hook-client process
(spawn to exit, hookd's answer and its commit included) for one PreToolUse every GAP seconds,
against one private release hookd per build directory given, run side by side and alternated
(each daemon gets one event every GAP seconds), so that the builds see the same host.

Usage: python3 bench/spaced.py [--events N] [--gap SECONDS] [--client PATH] [--baseline CMD]
                               DIR [DIR ...]
  DIR: a directory with hookd and hookctl (default: target/release); --client: the hook-client
  every build is driven with (default: the first DIR's); --baseline: a command run the same
  way in the same rotation, with the same stdin (e.g. /bin/true: what a hook costs that does
  nothing, started just as cold).
Prints, per build (and the baseline), the median, p90 and max of the per-hook wall time in
microseconds, and the ratio of each median to the baseline's.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAYLOAD = open(os.path.join(ROOT, "bench", "payloads", "pre_tool_use_bash.json"), "rb").read()


def start(bin_dir):
    home = tempfile.mkdtemp(prefix="hookd-spaced-")
    env = dict(os.environ, HOOKD_HOME=home, HOOKD_LOG="warn", HOOKD_NO_AUTOSTART="1")
    daemon = subprocess.Popen([os.path.join(bin_dir, "hookd")], env=env,
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    for _ in range(2000):
        if subprocess.run([os.path.join(bin_dir, "hookctl"), "status"], env=env,
                          capture_output=True).returncode == 0:
            return daemon, env, home
        time.sleep(0.01)
    daemon.kill()
    sys.exit(f"{bin_dir}/hookd did not start")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--events", type=int, default=20)
    p.add_argument("--gap", type=float, default=1.5)
    p.add_argument("--client")
    p.add_argument("--baseline")
    p.add_argument("dirs", nargs="*")
    a = p.parse_args()
    dirs = a.dirs or [os.path.join(ROOT, "target", "release")]
    client = a.client or os.path.join(dirs[0], "hook-client")
    daemons = [start(d) for d in dirs]
    # (name, command, environment) in rotation; the baseline needs no daemon.
    runs = [(d, [client], env) for d, (_, env, _) in zip(dirs, daemons)]
    if a.baseline:
        runs.append((a.baseline, [a.baseline], dict(os.environ)))
    times = {name: [] for name, _, _ in runs}
    try:
        # A first event each (start-up work), not counted.
        for _, env, _ in daemons:
            subprocess.run([client], input=PAYLOAD, env=env, capture_output=True)
        for _ in range(a.events):
            for name, cmd, env in runs:
                time.sleep(a.gap / len(runs))
                t0 = time.perf_counter()
                out = subprocess.run(cmd, input=PAYLOAD, env=env, capture_output=True)
                times[name].append((time.perf_counter() - t0) * 1e6)
                if out.returncode != 0 or out.stderr:
                    sys.exit(f"{name}: failed: {out.stderr.decode()}")
    finally:
        for daemon, _, home in daemons:
            daemon.terminate()
            daemon.wait(timeout=20)
            shutil.rmtree(home, ignore_errors=True)
    base = statistics.median(times[a.baseline]) if a.baseline else None
    for name, _, _ in runs:
        t = sorted(times[name])
        row = {"run": name, "events": len(t), "gap_s": a.gap,
               "median_us": round(statistics.median(t)),
               "p90_us": round(t[int(0.9 * (len(t) - 1))]), "max_us": round(t[-1])}
        if base:
            row["median_vs_baseline"] = round(statistics.median(t) / base, 3)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
