"""The dashboard in a real browser: Playwright for Python driving Debian's chromium.

Run by tests/tests/ui_browser.rs, which starts a real hookd (HOOKD_HOME in the environment,
`[ui] listen = "127.0.0.1:PORT"`, the rules below) and answers this script's requests on
stdin/stdout: the script prints `STOP` and waits for `STOPPED`, prints `START` and waits for
`STARTED` (hookd stays under the harness, which cleans up whatever happens here).

    dashboard_test.py --url LOGIN_URL --hook-client PATH --hookctl PATH --artifacts DIR

Asserts what issue 21 lists: #conn says live; rows appear (history, then streamed); a deny row
has the deny colour and shows its rule and reason; a session timeline has one mark per event;
the latency chart has three series; an event carrying `<script>` shows as text with no dialog
and no page error; after a hookd restart the page reconnects with no duplicate and no missing
row. Screenshots of each screen go to the artifacts directory. Exits 0 on success, 1 with a
message on the first failed assertion; prints `SKIPPED: <why>` and exits 0 when Playwright or
chromium is missing (the caller checks first, this is the second line of defence).

Deadlines below are upper bounds that fail loudly, never pass criteria.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError as e:  # pragma: no cover - the Rust side checks first
    print(f"SKIPPED: python Playwright is not installed ({e})", file=sys.stderr)
    sys.exit(0)

CHROMIUM = "/usr/bin/chromium"
WAIT_MS = 20_000  # upper bound for anything the page must show
SESSION = "ui-session-1"
OTHER = "ui-session-2"
DENY_BG = "rgb(253, 228, 228)"  # --deny-bg in app.css
XSS = "<script>alert('xss')</script><img src=x onerror=alert(2)>"

_seq = 0


def log(msg):
    print(f"dashboard_test: {msg}", file=sys.stderr, flush=True)


class Harness:
    def __init__(self, args):
        self.args = args
        # hook-client and hookctl never start a hookd of their own here: the harness owns it.
        self.env = dict(os.environ, HOOKD_NO_AUTOSTART="1")

    def hook(self, name, session, extra):
        """Sends one event through the real hook-client; returns its stdout."""
        global _seq
        _seq += 1
        ev = {
            "session_id": session,
            "transcript_path": f"/tmp/transcripts/{session}.jsonl",
            "cwd": "/tmp/project",
            "hook_event_name": name,
            "hookd_test_seq": _seq,
        }
        ev.update(extra)
        out = subprocess.run(
            [self.args.hook_client, "--no-autostart"],
            input=(json.dumps(ev) + "\n").encode(),
            env=self.env,
            capture_output=True,
            timeout=60,
        )
        return out.stdout.decode(errors="replace")

    def bash(self, session, command):
        return self.hook(
            "PreToolUse",
            session,
            {"tool_name": "Bash", "tool_input": {"command": command}, "tool_use_id": f"toolu_{_seq + 1}"},
        )

    def hookctl(self, *argv):
        out = subprocess.run(
            [self.args.hookctl, *argv], env=self.env, capture_output=True, timeout=60
        )
        if out.returncode != 0:
            raise AssertionError(f"hookctl {' '.join(argv)} failed: {out.stderr.decode()}")
        return out.stdout.decode()

    def store_ids(self, session=None):
        argv = ["events", "--json", "--limit", "100000", "--no-start"]
        if session:
            argv += ["--session", session]
        return sorted(e["id"] for e in json.loads(self.hookctl(*argv)))

    def login_url(self):
        return self.hookctl("ui", "--print-url").strip()

    def ask(self, word, answer):
        """Asks the Rust side to act on hookd (stop/start) and waits for its answer."""
        print(word, flush=True)
        line = sys.stdin.readline().strip()
        if line != answer:
            raise AssertionError(f"harness answered {line!r} to {word}, wanted {answer}")


def page_ids(page):
    return [int(x) for x in page.locator("tr.ev").evaluate_all("rows => rows.map(r => r.dataset.id)")]


def check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def shot(page, args, name):
    path = os.path.join(args.artifacts, f"ui-{name}.png")
    page.screenshot(path=path)
    log(f"screenshot {path}")


def run(args):
    h = Harness(args)
    problems = []  # page errors and dialogs: none allowed

    # History: events stored before the page opens.
    h.hook("SessionStart", SESSION, {"source": "startup"})
    h.bash(SESSION, "ls -la")
    h.bash(SESSION, "echo forbidden")
    h.hook("UserPromptSubmit", SESSION, {"prompt": "deploy it " + XSS})

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",  # the tests run as root
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        page = None
        try:
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}")
                if m.type == "error" and "ERR_CONNECTION_REFUSED" not in m.text
                and "401" not in m.text
                else None,
            )

            # Login: the one-time URL from `hookctl ui --print-url`, then the page itself.
            page.goto(args.url)
            expect(page.locator("#conn")).to_have_text("live", timeout=WAIT_MS)
            log("#conn says live")

            # Rows appear: the history, then rows streamed after the page opened.
            page.click("#tab-stream")
            rows = page.locator("tr.ev")
            expect(rows).to_have_count(len(h.store_ids()), timeout=WAIT_MS)
            h.bash(SESSION, "ls src")
            h.bash(OTHER, "echo forbidden again")
            h.bash(SESSION, "cat " + XSS)
            expect(rows).to_have_count(len(h.store_ids()), timeout=WAIT_MS)
            log(f"{rows.count()} rows, streamed ones included")

            # A deny row: the deny colour, its rule and its reason.
            # (The `cat <script>…` command is denied too: the shell analyser cannot parse it, and
            # rules match unparsed commands by default. This one is the plain case.)
            deny = page.locator('tr.ev[data-verdict="deny"]', has_text="echo forbidden again")
            expect(deny).to_have_class(re.compile(r"\bv-deny\b"), timeout=WAIT_MS)
            bg = deny.evaluate("r => getComputedStyle(r).backgroundColor")
            check(bg == DENY_BG, f"deny row background {bg}, wanted {DENY_BG}")
            expect(deny.locator(".rules")).to_have_text("deny-forbidden")
            expect(deny.locator(".reason")).to_contain_text("UI-DENY: print something else")
            log("deny row is red with its rule and reason")

            # Its detail: reason, the matched rule with file:line, latency in µs, payload.
            deny.click()
            detail = page.locator("#detail")
            expect(detail).to_be_visible(timeout=WAIT_MS)
            expect(detail).to_contain_text("UI-DENY: print something else")
            expect(detail.locator(".matched")).to_contain_text("deny-forbidden")
            expect(detail.locator(".matched code")).to_contain_text("hookd.toml:")
            expect(detail).to_contain_text(re.compile(r"latency\s*[0-9.]+ (µs|ms|s)"))
            expect(detail.locator("pre.payload")).to_contain_text('"command": "echo forbidden again"')
            shot(page, args, "stream")

            # Agent-controlled HTML is text: the literal markup shows, no element is made of it.
            xss_row = page.locator("tr.ev", has_text="<script>alert('xss')</script>").first
            expect(xss_row).to_be_visible(timeout=WAIT_MS)
            check(page.locator("tbody script, tbody img, #detail script, #detail img").count() == 0,
                  "agent text became elements")
            xss_row.click()
            expect(detail.locator("pre.payload")).to_contain_text("<img src=x onerror=alert(2)>")
            check(page.locator("#detail img").count() == 0, "payload became elements")
            log("<script> shows as text")

            # Sessions: the timeline has one mark per event of the session, coloured by verdict.
            page.click("#tab-sessions")
            page.locator(f'tr.session[data-session="{SESSION}"]').click()
            marks = page.locator("svg#timeline .mark")
            want = len(h.store_ids(SESSION))
            expect(marks).to_have_count(want, timeout=WAIT_MS)
            check(page.locator("svg#timeline .mark.v-deny").count() >= 1, "no deny mark")
            h.bash(SESSION, "ls tests")  # a live event of the open session adds its mark
            expect(marks).to_have_count(want + 1, timeout=WAIT_MS)
            log(f"timeline has {want + 1} marks for {want + 1} events")
            shot(page, args, "sessions")

            # Overview: the latency chart has three series with points, and a legend.
            page.click("#tab-overview")
            series = page.locator("svg#latency path.series")
            expect(series).to_have_count(3, timeout=WAIT_MS)
            for key in ("p50", "p95", "p99"):
                d = page.locator(f"svg#latency path.series.{key}").get_attribute("d") or ""
                dots = page.locator(f"svg#latency circle.dot.{key}").count()
                check(d.startswith("M") or dots > 0, f"latency series {key} is empty")
            expect(page.locator(".legend .key.p99")).to_have_text(re.compile(r"^p99 [0-9.]+ (µs|ms|s)$"))
            shot(page, args, "overview")

            for name in ("denials", "rules", "runs"):
                page.click(f"#tab-{name}")
                page.locator(f"#view-{name} table, #view-{name} .group, #view-{name} p").first.wait_for(timeout=WAIT_MS)
                shot(page, args, name)
            expect(page.locator('#view-denials .group[data-rule="deny-forbidden"]')).to_contain_text(
                "hookctl explain"
            )

            # Restart: hookd stops (the stream ends), events arrive while it is down (spooled
            # by hook-client), it starts again (ingesting them); the page comes back with every
            # row exactly once.
            page.click("#tab-stream")
            before = page_ids(page)
            check(len(before) == len(set(before)), f"duplicate rows before the restart: {before}")
            h.ask("STOP", "STOPPED")
            expect(page.locator("#conn")).to_have_text("reconnecting", timeout=WAIT_MS)
            log("hookd stopped: #conn says reconnecting")
            h.bash(SESSION, "ls while-down")
            h.hook("UserPromptSubmit", OTHER, {"prompt": "still there?"})
            h.ask("START", "STARTED")
            # Cookie sessions live in hookd's memory: the restarted hookd asks for a login.
            # `hookctl ui` in another tab logs the browser in; this tab resumes by itself.
            expect(page.locator("#conn")).to_have_text("offline", timeout=WAIT_MS)
            expect(page.locator("#banner")).to_contain_text("hookctl ui")
            shot(page, args, "logged-out")
            other = ctx.new_page()
            other.goto(h.login_url())
            expect(other.locator("#conn")).to_have_text("live", timeout=WAIT_MS)
            other.close()
            expect(page.locator("#conn")).to_have_text("live", timeout=WAIT_MS)
            h.bash(SESSION, "ls after-restart")
            want_ids = h.store_ids()
            expect(rows).to_have_count(len(want_ids), timeout=WAIT_MS)
            got = page_ids(page)
            check(len(got) == len(set(got)), f"duplicate rows after the restart: {sorted(got)}")
            check(sorted(got) == want_ids, f"rows {sorted(got)} != stored {want_ids}")
            check(page.locator('tr.ev[data-verdict^="fallback:"]').count() >= 1,
                  "the events spooled while hookd was down are not shown")
            log(f"after the restart: {len(got)} rows, each stored row once")
            shot(page, args, "after-restart")

            check(not problems, "page errors or dialogs: " + "; ".join(problems))
        except Exception:
            if page is None:
                raise
            shot(page, args, "failure")
            log("page text at the failure:\n" + page.locator("body").inner_text()[:4000])
            raise
        finally:
            browser.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--hook-client", required=True)
    ap.add_argument("--hookctl", required=True)
    ap.add_argument("--artifacts", required=True)
    args = ap.parse_args()
    if not os.access(CHROMIUM, os.X_OK):
        print(f"SKIPPED: {CHROMIUM} is missing (bash tests/ui/install.sh)", file=sys.stderr)
        return 0
    os.makedirs(args.artifacts, exist_ok=True)
    try:
        run(args)
    except AssertionError as e:
        log(f"FAILED: {e}")
        return 1
    except Exception as e:  # a Playwright timeout or error: the same, with its message
        log(f"FAILED: {type(e).__name__}: {e}")
        return 1
    log("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
