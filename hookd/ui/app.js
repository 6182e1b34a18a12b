// hookd dashboard: see docs/ui.md. No framework, no build step; data is rendered as text only.
//
// Every string that comes from the store (commands, prompts, reasons, paths, payloads) is
// agent-controlled: it reaches the DOM through textContent and setAttribute only, never
// innerHTML. The page loads history from /ui/api/events, then streams new rows over SSE
// (/ui/api/stream) from the newest id it holds, and drops any row whose id it already has.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const MAX_ROWS = 1000; // rows kept in the live table
  const MAX_SEEN = 50000; // ids remembered for de-duplication
  const REFRESH_MS = 10000; // polling period of the open screen (besides the live stream)

  // ---------------------------------------------------------------- DOM helpers

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    setAttrs(e, attrs);
    append(e, kids);
    return e;
  }

  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVG, tag);
    setAttrs(e, attrs);
    append(e, kids);
    return e;
  }

  function setAttrs(e, attrs) {
    if (!attrs) return;
    for (const k of Object.keys(attrs)) {
      const v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") e.textContent = String(v);
      else if (k === "onclick") e.addEventListener("click", v);
      else e.setAttribute(k, String(v));
    }
  }

  function append(e, kids) {
    for (const k of kids) {
      if (k === null || k === undefined || k === false) continue;
      if (Array.isArray(k)) append(e, k);
      else if (typeof k === "string" || typeof k === "number") e.appendChild(document.createTextNode(String(k)));
      else e.appendChild(k);
    }
  }

  function clear(e) {
    while (e.firstChild) e.removeChild(e.firstChild);
    return e;
  }

  const $ = (sel) => document.querySelector(sel);

  // ---------------------------------------------------------------- formatting (units always)

  // One time zone for the whole page: hookd's (from /ui/api/overview), else the browser's.
  let tzOffsetMin = -new Date().getTimezoneOffset();

  function tzLabel() {
    const sign = tzOffsetMin < 0 ? "-" : "+";
    const a = Math.abs(tzOffsetMin);
    return "UTC" + sign + pad(Math.floor(a / 60)) + ":" + pad(a % 60);
  }

  function pad(n, w) {
    return String(n).padStart(w || 2, "0");
  }

  function shifted(ms) {
    return new Date(ms + tzOffsetMin * 60000);
  }

  function fmtTime(ms) {
    const d = shifted(ms);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
  }

  function fmtHM(ms) {
    const d = shifted(ms);
    return pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes());
  }

  function fmtDateTime(ms) {
    if (ms === null || ms === undefined) return "-";
    const d = shifted(ms);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) + " " + fmtTime(ms);
  }

  function fmtUs(us) {
    if (us === null || us === undefined) return "-";
    if (us < 1000) return Math.round(us) + " µs";
    if (us < 1000000) return (us / 1000).toFixed(us < 10000 ? 2 : 1) + " ms";
    return (us / 1000000).toFixed(2) + " s";
  }

  function fmtMs(ms) {
    if (ms < 1000) return ms + " ms";
    return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  }

  function fmtBytes(b) {
    if (b < 1024) return b + " B";
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let v = b / 1024;
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return v.toFixed(v < 10 ? 1 : 0) + " " + units[i];
  }

  function fmtAgo(ms, now) {
    const s = Math.max(0, Math.round(((now || Date.now()) - ms) / 1000));
    if (s < 60) return s + " s ago";
    if (s < 3600) return Math.round(s / 60) + " min ago";
    if (s < 86400) return (s / 3600).toFixed(1) + " h ago";
    return (s / 86400).toFixed(1) + " d ago";
  }

  // The colour class of a verdict: deny red, ask amber, allow green, context blue, none grey,
  // fallback/error purple. Blocks are denials of the event; warnings ask for attention.
  function verdictClass(v) {
    v = String(v || "");
    if (v === "deny" || v === "block") return "v-deny";
    if (v === "ask" || v === "warn") return "v-ask";
    if (v === "allow") return "v-allow";
    if (v === "context") return "v-context";
    if (v.startsWith("fallback:") || v.startsWith("error:") || v === "error") return "v-fallback";
    return "v-none";
  }

  const VERDICT_ORDER = ["deny", "block", "ask", "warn", "allow", "context", "none"];

  // ---------------------------------------------------------------- connection state

  const conn = {
    es: null,
    newestId: 0, // the newest event id the page holds
    seen: new Set(),
    retryTimer: null,
    retries: 0,
    loggedOut: false,
    historyLoaded: false,
  };

  function setConn(state, hint) {
    const c = $("#conn");
    c.textContent = state;
    c.className = "conn-" + state;
    const b = $("#banner");
    if (hint) {
      clear(b);
      append(b, hint);
      b.hidden = false;
    } else {
      b.hidden = true;
    }
  }

  function loginHint() {
    return [
      "Not logged in (hookd restarted, or the session was idle too long). Run ",
      el("code", { text: "hookctl ui" }),
      " to log in: this tab resumes where it left off.",
    ];
  }

  class HttpError extends Error {
    constructor(status, msg) {
      super(msg);
      this.status = status;
    }
  }

  async function api(path) {
    const r = await fetch(path, { credentials: "same-origin", cache: "no-store" });
    if (!r.ok) {
      let msg = r.status + " " + r.statusText;
      try {
        const j = await r.json();
        if (j && j.error) msg = j.error;
      } catch (_) {
        // not JSON: keep the status line
      }
      if (r.status === 401) {
        conn.loggedOut = true;
        setConn("offline", loginHint());
      }
      throw new HttpError(r.status, msg);
    }
    return r.json();
  }

  function qs(params) {
    const parts = [];
    for (const k of Object.keys(params)) {
      const v = params[k];
      if (v === null || v === undefined || v === "") continue;
      parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(String(v)));
    }
    return parts.length ? "?" + parts.join("&") : "";
  }

  // A row from the store or the stream; false when the page already has it.
  function remember(row) {
    if (conn.seen.has(row.id)) return false;
    conn.seen.add(row.id);
    if (conn.seen.size > MAX_SEEN) {
      // Sets iterate in insertion order: forget the oldest.
      const first = conn.seen.values().next().value;
      conn.seen.delete(first);
    }
    if (row.id > conn.newestId) conn.newestId = row.id;
    return true;
  }

  function connect() {
    if (conn.es) {
      conn.es.close();
      conn.es = null;
    }
    clearTimeout(conn.retryTimer);
    // The newest id held: the server replays every stored row after it, then goes live. The
    // browser's own reconnects send Last-Event-ID; duplicates are dropped by id either way.
    const es = new EventSource("/ui/api/stream" + qs({ last_id: conn.newestId }));
    conn.es = es;
    es.addEventListener("open", () => {
      conn.retries = 0;
      conn.loggedOut = false;
      setConn("live");
    });
    es.addEventListener("ev", (m) => {
      let row;
      try {
        row = JSON.parse(m.data);
      } catch (_) {
        return;
      }
      if (remember(row)) onEvent(row);
    });
    es.addEventListener("error", () => {
      if (es !== conn.es) return;
      if (es.readyState === EventSource.CONNECTING) {
        // The browser retries on its own (with Last-Event-ID).
        if (!conn.loggedOut) setConn("reconnecting");
        return;
      }
      // Closed for good (a refused connection, 401, 503): find out why, then start anew.
      es.close();
      conn.es = null;
      retryLater();
    });
  }

  // (Re)starts the stream: history first when the page holds none yet, so a first stream
  // never replays the whole store.
  async function resume() {
    if (!conn.historyLoaded) {
      await views.stream.load();
      conn.historyLoaded = true;
    }
    connect();
  }

  function retryLater() {
    clearTimeout(conn.retryTimer);
    const delay = Math.min(5000, 500 * Math.pow(2, conn.retries++));
    if (!conn.loggedOut) setConn("reconnecting");
    conn.retryTimer = setTimeout(async () => {
      try {
        await api("/ui/api/overview");
      } catch (e) {
        // 401: logged out (the hint is shown; another tab's login resumes this one).
        // Anything else: hookd is down or restarting.
        if (!(e instanceof HttpError && e.status === 401)) conn.loggedOut = false;
        retryLater();
        return;
      }
      conn.loggedOut = false;
      resume().then(refreshCurrent, () => retryLater());
    }, delay);
  }

  // ---------------------------------------------------------------- screens

  const views = {};
  let current = null;

  function section(name) {
    const s = el("section", { id: "view-" + name, class: "view", hidden: "" });
    $("#view").appendChild(s);
    return s;
  }

  function show(name) {
    if (!views[name]) name = "overview";
    current = name;
    for (const n of Object.keys(views)) {
      views[n].root.hidden = n !== name;
      const tab = $("#tab-" + n);
      tab.classList.toggle("active", n === name);
      tab.setAttribute("aria-selected", n === name ? "true" : "false");
    }
    if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
    refreshCurrent();
  }

  function refreshCurrent() {
    const v = views[current];
    if (v && v.refresh) v.refresh().catch(showError(v.root));
  }

  function showError(root) {
    return (e) => {
      if (e instanceof HttpError && e.status === 401) return;
      let box = root.querySelector(".error");
      if (!box) {
        box = el("p", { class: "error" });
        root.insertBefore(box, root.firstChild);
      }
      box.textContent = "could not load: " + (e && e.message ? e.message : String(e));
    };
  }

  function clearError(root) {
    const box = root.querySelector(".error");
    if (box) box.remove();
  }

  function card(label, value, extra) {
    return el("div", { class: "card" }, el("div", { class: "label", text: label }), el("div", { class: "value", text: value }), extra ? el("div", { class: "sub", text: extra }) : null);
  }

  function table(headers, cls) {
    const t = el("table", { class: cls || "" });
    t.appendChild(el("thead", null, el("tr", null, headers.map((h) => el("th", { text: h })))));
    const tb = el("tbody");
    t.appendChild(tb);
    return [t, tb];
  }

  // One row per fleet sink (`[sink.NAME]`): state, lag in events and age, delivered, last success.
  function sinkTable(sinks, now) {
    const [t, tb] = table(["sink", "state", "lag", "oldest undelivered", "sent", "last success"], "sinks");
    for (const s of sinks) {
      const state = s.ok ? "ok" : "error: " + (s.error || "failing");
      tb.appendChild(el("tr", { class: s.ok ? "v-allow" : "v-fallback" },
        el("td", { title: (s.kind || "") + " " + (s.target || "") }, s.name || ""),
        el("td", { text: state }),
        el("td", { class: "num", text: String(s.lag_events || 0) + " events" }),
        el("td", { class: "num", text: s.lag_ms ? fmtMs(s.lag_ms) : "-" }),
        el("td", { class: "num", text: String(s.sent || 0) + " events" }),
        el("td", { class: "when", text: s.last_success_ms ? fmtAgo(s.last_success_ms, now) : "never" })));
    }
    return t;
  }

  function panel(title, ...kids) {
    return el("div", { class: "panel" }, el("h2", { text: title }), kids);
  }

  // ---- charts (inline SVG)

  // Stacked bars: one bar per point, one segment per verdict.
  function verdictChart(points, stepS) {
    const W = 600;
    const H = 160;
    const L = 40;
    const B = 20;
    const s = svg("svg", { id: "verdicts", viewBox: "0 0 " + W + " " + H, class: "chart", role: "img" });
    let max = 1;
    const kinds = new Set();
    for (const p of points) {
      let sum = 0;
      for (const k of Object.keys(p.counts || {})) {
        sum += p.counts[k];
        kinds.add(k);
      }
      max = Math.max(max, sum);
    }
    const n = Math.max(points.length, 1);
    const bw = (W - L - 4) / n;
    axisY(s, L, W, H, B, max, (v) => String(Math.round(v)));
    const order = [...kinds].sort((a, b) => rank(a) - rank(b));
    points.forEach((p, i) => {
      let y = H - B;
      for (const k of order) {
        const c = (p.counts || {})[k] || 0;
        if (!c) continue;
        const h = ((H - B - 6) * c) / max;
        y -= h;
        s.appendChild(svg("rect", { x: L + i * bw + 0.5, y: y, width: Math.max(bw - 1, 0.5), height: h, class: "bar " + verdictClass(k) }, svg("title", { text: fmtHM(p.t_ms) + " " + k + ": " + c + " events" })));
      }
    });
    axisX(s, points, L, W, H, B);
    const legend = el("div", { class: "legend" }, order.map((k) => el("span", { class: "key " + verdictClass(k), text: k })));
    return el("div", null, el("div", { class: "chart-title", text: "events per " + stepS + " s, by verdict" }), s, legend);
  }

  function rank(v) {
    const i = VERDICT_ORDER.indexOf(v);
    return i < 0 ? VERDICT_ORDER.length : i;
  }

  function axisY(s, L, W, H, B, max, label) {
    for (const f of [0, 0.5, 1]) {
      const y = H - B - (H - B - 6) * f;
      s.appendChild(svg("line", { x1: L, x2: W, y1: y, y2: y, class: "grid" }));
      s.appendChild(svg("text", { x: L - 4, y: y + 4, class: "tick", "text-anchor": "end", text: label(max * f) }));
    }
  }

  function axisX(s, points, L, W, H, B) {
    if (!points.length) return;
    const n = points.length;
    const ticks = [[0, "start"], [Math.floor(n / 2), "middle"], [n - 1, "end"]];
    for (const [i, anchor] of n > 2 ? ticks : ticks.slice(0, 1)) {
      const x = anchor === "start" ? L : anchor === "end" ? W - 4 : L + ((W - L - 4) * (i + 0.5)) / n;
      s.appendChild(svg("text", { x: x, y: H - 4, class: "tick", "text-anchor": anchor, text: fmtHM(points[i].t_ms) }));
    }
  }

  // Latency percentiles over time: three lines (p50, p95, p99), in µs, gaps where no event.
  function latencyChart(points, stepS) {
    const W = 600;
    const H = 180;
    const L = 56;
    const B = 20;
    const s = svg("svg", { id: "latency", viewBox: "0 0 " + W + " " + H, class: "chart", role: "img" });
    let max = 1;
    for (const p of points) if (p.count) max = Math.max(max, p.p99 || 0, p.p95 || 0, p.p50 || 0);
    axisY(s, L, W, H, B, max, fmtUs);
    const n = Math.max(points.length, 1);
    const xs = (i) => L + ((W - L - 4) * (i + 0.5)) / n;
    const ys = (v) => H - B - ((H - B - 6) * v) / max;
    const series = ["p50", "p95", "p99"];
    for (const key of series) {
      let d = "";
      let pen = "M";
      points.forEach((p, i) => {
        if (!p.count) {
          pen = "M";
          return;
        }
        d += pen + xs(i).toFixed(1) + " " + ys(p[key] || 0).toFixed(1) + " ";
        pen = "L";
      });
      const path = svg("path", { class: "series " + key, d: d.trim(), "data-series": key }, svg("title", { text: key }));
      s.appendChild(path);
      // A lone point has no line: mark it so it is seen.
      points.forEach((p, i) => {
        const prev = points[i - 1];
        const next = points[i + 1];
        if (p.count && !(prev && prev.count) && !(next && next.count)) {
          s.appendChild(svg("circle", { cx: xs(i), cy: ys(p[key] || 0), r: 2.5, class: "dot " + key }, svg("title", { text: fmtHM(p.t_ms) + " " + key + " " + fmtUs(p[key]) + " (" + p.count + " events)" })));
        }
      });
    }
    axisX(s, points, L, W, H, B);
    const last = [...points].reverse().find((p) => p.count);
    const legend = el("div", { class: "legend" }, series.map((k) => el("span", { class: "key line " + k, text: k + (last ? " " + fmtUs(last[k]) : "") })));
    return el("div", null, el("div", { class: "chart-title", text: "hookd processing time per event (µs), " + stepS + " s buckets" }), s, legend);
  }

  function sparkline(values) {
    const W = 120;
    const H = 24;
    const max = Math.max(1, ...values);
    const n = Math.max(values.length, 1);
    const bw = W / n;
    const s = svg("svg", { class: "spark", viewBox: "0 0 " + W + " " + H, width: W, height: H });
    values.forEach((v, i) => {
      const h = v ? Math.max(1, ((H - 2) * v) / max) : 0;
      s.appendChild(svg("rect", { x: i * bw, y: H - h, width: Math.max(bw - 1, 1), height: h }, svg("title", { text: (values.length - i) + " h ago: " + v + " hits" })));
    });
    return s;
  }

  // ---- Overview

  views.overview = (function () {
    const root = section("overview");
    const cards = el("div", { class: "cards" });
    const charts = el("div", { class: "grid2" });
    const lower = el("div", { class: "grid2" });
    root.append(cards, charts, lower);

    async function refresh() {
      const [ov, lat, ver, den] = await Promise.all([
        api("/ui/api/overview"),
        api("/ui/api/latency?minutes=60&step=60"),
        api("/ui/api/verdicts?minutes=60&step=60"),
        api("/ui/api/denials?minutes=1440"),
      ]);
      clearError(root);
      if (typeof ov.tz_offset_min === "number") {
        tzOffsetMin = ov.tz_offset_min;
        $("#tz").textContent = "times in " + tzLabel();
      }
      const st = ov.stats || {};
      const status = ov.status || {};
      clear(cards);
      const health = st.health || "unknown";
      cards.append(
        el("div", { class: "card health h-" + health }, el("div", { class: "label", text: "health" }), el("div", { class: "value", text: health }), (st.health_reasons || []).map((r) => el("div", { class: "sub", text: r }))),
        card("events/s", (st.rate_1m || 0).toFixed(2) + " ev/s", "5 min: " + (st.rate_5m || 0).toFixed(2) + " ev/s"),
        card("active sessions", String(ov.sessions_active)),
        card("store size", fmtBytes(ov.store_bytes || 0), (status.events_total || 0) + " events stored"),
        card("spool backlog", fmtBytes(st.spool_backlog_bytes || 0), (st.fallbacks || 0) + " fallbacks since start"),
        card("latency p50 / p99", fmtUs((st.processing_us || {}).p50) + " / " + fmtUs((st.processing_us || {}).p99), "since start, " + ((st.processing_us || {}).count || 0) + " events"),
        card("hookd", status.version ? "v" + status.version : "-", "up " + fmtMs(status.uptime_ms || 0) + ", pid " + (status.pid || "-")),
      );

      clear(charts);
      charts.append(panel("Latency, last hour", latencyChart(lat.points || [], lat.step_s || 60)), panel("Verdict mix, last hour", verdictChart(ver.points || [], ver.step_s || 60)));

      clear(lower);
      const groups = (den.groups || []).slice().sort((a, b) => b.count - a.count).slice(0, 10);
      const [dt, dtb] = table(["rule", "verdict", "count", "last", "reason"], "denials-top");
      for (const g of groups) {
        dtb.appendChild(el("tr", { class: verdictClass(g.verdict) }, el("td", { class: "rule", text: g.rule || "(no rule)" }), el("td", { text: g.verdict }), el("td", { class: "num", text: String(g.count) }), el("td", { class: "when", text: fmtDateTime(g.last_ms) }), el("td", { title: g.reason || "" }, el("div", { class: "clamp3", text: g.reason || "" }))));
      }
      const errors = [].concat(status.rule_errors || []);
      if (status.rules_fallback) errors.push(status.rules_fallback);
      for (const p of status.projects || []) for (const e of p.errors || []) errors.push(p.dir + ": " + e);
      const sinks = ov.sinks || [];
      lower.append(
        panel("Top denials by rule (24 h)", groups.length ? dt : el("p", { class: "muted", text: "no denials in the last 24 h" })),
        el("div", null,
          panel("Rule load errors", errors.length ? el("ul", { class: "errors" }, errors.map((e) => el("li", { text: e }))) : el("p", { class: "muted", text: "none: " + (status.rules_loaded || 0) + " rules loaded" })),
          panel("Fleet sinks", sinks.length ? sinkTable(sinks, ov.now_ms) : el("p", { class: "muted", text: "no sinks configured" })),
        ),
      );
    }
    return { root, refresh };
  })();

  // ---- Live stream

  views.stream = (function () {
    const root = section("stream");
    const filters = {};
    const form = el("form", { class: "filters", id: "filters" });
    for (const [key, ph] of [["event", "event"], ["tool", "tool"], ["verdict", "verdict (prefix)"], ["session", "session id"], ["rule", "rule"], ["text", "text"]]) {
      const input = el("input", { name: key, placeholder: ph, id: "f-" + key, autocomplete: "off" });
      filters[key] = input;
      form.appendChild(input);
    }
    const apply = el("button", { type: "submit", text: "filter" });
    const pauseBtn = el("button", { type: "button", id: "pause", text: "pause" });
    const pending = el("span", { id: "pending", class: "muted" });
    form.append(apply, pauseBtn, pending);
    const [t, tbody] = table(["time", "session", "event", "tool", "verdict", "rules", "latency", "summary / reason"], "events");
    const detail = el("aside", { id: "detail", hidden: "" });
    root.append(form, el("div", { class: "split" }, el("div", { class: "scroll" }, t), detail));

    let paused = false;
    let buffered = [];
    let active = {}; // the applied filters
    let selected = null;
    const shown = new Map(); // id -> tr of the rows in the table
    let queue = [];
    let flushTimer = null;
    const recent = []; // the last live rows, whatever the filters: a reload keeps them

    form.addEventListener("submit", (e) => {
      e.preventDefault();
      load().catch(showError(root));
    });
    pauseBtn.addEventListener("click", () => {
      paused = !paused;
      pauseBtn.textContent = paused ? "resume" : "pause";
      pauseBtn.classList.toggle("on", paused);
      if (!paused) {
        const rows = buffered;
        buffered = [];
        for (const r of rows) enqueue(r);
      }
      pending.textContent = "";
    });

    function matches(r) {
      const f = active;
      if (f.event && r.event !== f.event) return false;
      if (f.tool && r.tool !== f.tool) return false;
      if (f.verdict && !String(r.verdict).startsWith(f.verdict)) return false;
      if (f.session && !String(r.session_id || "").startsWith(f.session)) return false;
      if (f.rule && !(r.rules || []).includes(f.rule)) return false;
      if (f.text) {
        const hay = [r.summary, r.reason, r.tool, r.event, r.project_dir].join("\n").toLowerCase();
        if (!hay.includes(f.text.toLowerCase())) return false;
      }
      return true;
    }

    function rowFor(r) {
      const cls = verdictClass(r.verdict);
      const tr = el("tr", { class: "ev " + cls, "data-id": r.id, "data-verdict": r.verdict, tabindex: 0 },
        el("td", { class: "time", text: fmtTime(r.time_ms), title: fmtDateTime(r.time_ms) + " " + tzLabel() + " · id " + r.id }),
        el("td", { class: "mono", text: String(r.session_id || "").slice(0, 8), title: r.session_id || "" }),
        el("td", { text: r.event }),
        el("td", { text: r.tool || "" }),
        el("td", { class: "verdict", text: r.verdict }),
        el("td", { class: "rules", text: (r.rules || []).join(", ") }),
        el("td", { class: "num", text: fmtUs(r.latency_us) }),
        el("td", { class: "summary" }, el("div", { class: "sum", text: r.summary || "" }), r.reason ? el("div", { class: "reason", text: r.reason }) : null),
      );
      tr.addEventListener("click", () => open(r.id, tr));
      tr.addEventListener("keydown", (e) => {
        if (e.key === "Enter") open(r.id, tr);
      });
      return tr;
    }

    // Rows are kept newest first, ordered by id.
    function addRow(r, fresh) {
      if (shown.has(r.id)) return;
      const tr = rowFor(r);
      shown.set(r.id, tr);
      // Newest first: a streamed row almost always goes on top, so the walk is short.
      let before = tbody.firstChild;
      while (before && Number(before.getAttribute("data-id")) > r.id) before = before.nextSibling;
      if (fresh) tr.classList.add("new"); // the flash plays once, on insertion
      tbody.insertBefore(tr, before);
      while (tbody.childNodes.length > MAX_ROWS) {
        shown.delete(Number(tbody.lastChild.getAttribute("data-id")));
        tbody.removeChild(tbody.lastChild);
      }
    }

    // Streamed rows are inserted in batches (at most one per 50 ms), not one DOM update each.
    function enqueue(r) {
      queue.push(r);
      if (queue.length > MAX_ROWS) queue.shift();
      if (!flushTimer) flushTimer = setTimeout(flush, 50);
    }

    function flush() {
      flushTimer = null;
      const rows = queue;
      queue = [];
      for (const r of rows) addRow(r, true);
    }

    function live(r) {
      recent.push(r);
      if (recent.length > MAX_ROWS) recent.shift();
      if (!matches(r)) return;
      if (paused) {
        buffered.push(r);
        if (buffered.length > MAX_ROWS) buffered.shift();
        pending.textContent = buffered.length + " new while paused";
        return;
      }
      enqueue(r);
    }

    async function load() {
      active = {};
      for (const k of Object.keys(filters)) if (filters[k].value.trim()) active[k] = filters[k].value.trim();
      const res = await api("/ui/api/events" + qs(Object.assign({ limit: 200 }, active)));
      clearError(root);
      clear(tbody);
      shown.clear();
      for (const r of (res.events || []).slice().reverse()) {
        // History: the page holds these ids now (the stream starts after the newest).
        remember(r);
        addRow(r, false);
      }
      // Rows streamed while the history was on its way (newer than it, or stored after it).
      for (const r of recent) if (matches(r) && !(paused && buffered.includes(r))) addRow(r, false);
    }

    async function open(id, tr) {
      if (selected) selected.classList.remove("selected");
      selected = tr;
      if (tr) tr.classList.add("selected");
      const res = await api("/ui/api/events/" + encodeURIComponent(id));
      const r = res.event || {};
      clear(detail);
      detail.hidden = false;
      let payload = r.payload || "";
      try {
        payload = JSON.stringify(JSON.parse(payload), null, 2);
      } catch (_) {
        // not JSON: shown as stored
      }
      const closeBtn = el("button", { type: "button", class: "close", text: "close" });
      closeBtn.addEventListener("click", () => {
        detail.hidden = true;
        if (selected) selected.classList.remove("selected");
      });
      const matched = res.matched || [];
      detail.append(
        el("div", { class: "detail-head " + verdictClass(r.verdict) }, el("span", { class: "verdict", text: r.verdict }), el("span", { text: " " + r.event + (r.tool ? " · " + r.tool : "") }), closeBtn),
        dl([
          ["id", String(r.id)],
          ["time", fmtDateTime(r.time_ms) + " " + tzLabel()],
          ["session", r.session_id || "-"],
          ["project", r.project_dir || "-"],
          ["summary", r.summary || "-"],
          ["reason", r.reason || "-"],
          ["latency", fmtUs(r.latency_us)],
          ["source", r.source || "-"],
          ["redacted", (r.redacted || []).length ? r.redacted.join(", ") : "nothing"],
        ]),
        el("h3", { text: "matched rules" }),
        matched.length
          ? el("ul", { class: "matched" }, matched.map((m) => el("li", null, el("span", { class: "rule", text: m.name }), " ", el("code", { text: m.source ? m.source + (m.line ? ":" + m.line : "") : "(source unknown)" }))))
          : (r.rules || []).length
            ? el("ul", { class: "matched" }, r.rules.map((n) => el("li", null, el("span", { class: "rule", text: n }), " ", el("code", { text: "(no longer loaded)" }))))
            : el("p", { class: "muted", text: "none" }),
        el("h3", { text: "payload (redacted)" }),
        el("pre", { class: "payload", text: payload }),
      );
    }

    return { root, refresh: () => (Object.keys(active).length || (conn.historyLoaded && !tbody.firstChild) ? load() : Promise.resolve()), live, load, openEvent: open };
  })();

  function dl(pairs) {
    return el("dl", null, pairs.map(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
  }

  // ---- Sessions

  views.sessions = (function () {
    const root = section("sessions");
    const allBox = el("input", { type: "checkbox", id: "sessions-all" });
    const head = el("div", { class: "toolbar" }, el("label", null, allBox, " ended sessions too"));
    const [t, tbody] = table(["session", "state", "project", "started", "last", "events", "denials"], "sessions");
    const lane = el("div", { id: "session-detail" });
    root.append(head, el("div", { class: "scroll short" }, t), lane);
    allBox.addEventListener("change", () => refresh().catch(showError(root)));
    let openId = null;
    let openReport = null;

    async function refresh() {
      const res = await api("/ui/api/sessions" + qs({ limit: 100, active: allBox.checked ? 0 : 1 }));
      clearError(root);
      clear(tbody);
      for (const s of res.sessions || []) {
        const tr = el("tr", { class: "session" + (s.id === openId ? " selected" : ""), "data-session": s.id, tabindex: 0 },
          el("td", { class: "mono", text: s.id }),
          el("td", { text: s.ended_ms ? "ended" : "active" }),
          el("td", { text: s.project_dir || "-" }),
          el("td", { class: "when", text: fmtDateTime(s.started_ms) }),
          el("td", { text: fmtAgo(s.last_ms) }),
          el("td", { class: "num", text: String(s.events) }),
          el("td", { class: "num" + (s.denials ? " bad" : ""), text: String(s.denials) }),
        );
        tr.addEventListener("click", () => openSession(s.id).catch(showError(root)));
        tbody.appendChild(tr);
      }
      if (openId) await openSession(openId);
    }

    async function openSession(id) {
      const rep = await api("/ui/api/sessions/" + encodeURIComponent(id));
      openId = id;
      openReport = rep;
      for (const tr of tbody.querySelectorAll("tr.session")) tr.classList.toggle("selected", tr.getAttribute("data-session") === id);
      render();
    }

    function render() {
      const rep = openReport;
      const row = rep.row || {};
      let state = {};
      try {
        state = JSON.parse(rep.state_json || "{}") || {};
      } catch (_) {
        state = {};
      }
      clear(lane);
      lane.append(
        el("h2", null, "Session ", el("span", { class: "mono", text: row.id })),
        el("div", { class: "split" }, el("div", { class: "lane" }, timeline(rep.timeline || []), el("div", { class: "legend" }, ["v-allow allow", "v-deny deny/block", "v-ask ask", "v-context context", "v-none none", "v-fallback fallback/error"].map((k) => el("span", { class: "key " + k.split(" ")[0], text: k.split(" ")[1] })))), stateView(row, state)),
      );
    }

    function timeline(events) {
      const W = 800;
      const H = 60;
      const s = svg("svg", { id: "timeline", viewBox: "0 0 " + W + " " + H, class: "chart timeline", role: "img" });
      const t0 = events.length ? events[0].time_ms : 0;
      const t1 = events.length ? events[events.length - 1].time_ms : 1;
      const span = Math.max(1, t1 - t0);
      s.appendChild(svg("line", { x1: 10, x2: W - 10, y1: 30, y2: 30, class: "grid" }));
      for (const e of events) {
        const x = 10 + ((W - 20) * (e.time_ms - t0)) / span;
        const mark = svg("rect", { x: x - 2, y: 14, width: 4, height: 32, rx: 1, class: "mark " + verdictClass(e.verdict), "data-id": e.id }, svg("title", { text: fmtTime(e.time_ms) + " " + e.event + (e.tool ? " " + e.tool : "") + " → " + e.verdict + (e.summary ? ": " + e.summary : "") }));
        mark.addEventListener("click", () => {
          show("stream");
          views.stream.openEvent(e.id, null).catch(showError(views.stream.root));
        });
        s.appendChild(mark);
      }
      if (events.length) {
        s.appendChild(svg("text", { x: 10, y: H - 2, class: "tick", text: fmtTime(t0) }));
        s.appendChild(svg("text", { x: W - 10, y: H - 2, class: "tick", "text-anchor": "end", text: fmtTime(t1) }));
      }
      return el("div", null, el("div", { class: "chart-title", text: events.length + " events, " + fmtTime(t0) + " to " + fmtTime(t1) + " " + tzLabel() }), s);
    }

    function stateView(row, st) {
      const list = (obj) => Object.keys(obj || {}).sort();
      const tools = Object.entries(st.tool_calls || {}).sort((a, b) => b[1] - a[1]);
      const cmds = (st.commands || []).slice(-20);
      return el("div", { class: "state" },
        dl([
          ["project", row.project_dir || "-"],
          ["started", fmtDateTime(row.started_ms) + (row.ended_ms ? ", ended " + fmtDateTime(row.ended_ms) : "")],
          ["events", String(row.events)],
          ["denials", String(row.denials)],
          ["prompts", String(st.prompts || 0)],
          ["subagents", String(st.subagents_started || 0)],
          ["stop blocks in a row", String(st.stop_blocks || 0)],
          ["loop-guard releases", String(st.loop_guard_releases || 0)],
          ["bypasses", String(st.bypasses || 0)],
          ["tools", tools.length ? tools.map(([k, v]) => k + " " + v).join(", ") : "-"],
        ]),
        el("h3", { text: "files read" }), fileList(list(st.files_read)),
        el("h3", { text: "files edited" }), fileList(list(st.files_edited)),
        el("h3", { text: "commands" }),
        cmds.length ? el("ul", { class: "cmds" }, cmds.map((c) => el("li", { class: c.ok ? "ok" : "bad" }, el("span", { class: "tag", text: c.ok ? "ok" : "FAIL" }), " ", el("code", { text: c.command })))) : el("p", { class: "muted", text: "-" }),
      );
    }

    function fileList(files) {
      return files.length ? el("ul", { class: "files" }, files.map((f) => el("li", { class: "mono", text: f }))) : el("p", { class: "muted", text: "-" });
    }

    // A live event of the open session gets its mark (once: marks are keyed by event id).
    function live(r) {
      if (!openReport || r.session_id !== openId) return;
      const tl = openReport.timeline || (openReport.timeline = []);
      if (tl.some((e) => e.id === r.id)) return;
      tl.push(r);
      if (current === "sessions") render();
    }

    return { root, refresh, live, openSession };
  })();

  // ---- Denials

  views.denials = (function () {
    const root = section("denials");
    const list = el("div");
    root.append(el("p", { class: "muted", text: "deny, ask and block verdicts of the last 24 h, grouped by rule" }), list);

    async function refresh() {
      const res = await api("/ui/api/denials?minutes=1440");
      clearError(root);
      clear(list);
      const groups = res.groups || [];
      if (!groups.length) list.appendChild(el("p", { class: "muted", text: "no denials in the last 24 h" }));
      for (const g of groups) {
        const ex = g.examples || [];
        list.appendChild(el("div", { class: "group " + verdictClass(g.verdict), "data-rule": g.rule },
          el("h2", null, el("span", { class: "rule", text: g.rule || "(no rule: a fail mode)" }), " ", el("span", { class: "verdict", text: g.verdict }), " ", el("span", { class: "muted", text: g.count + "×, last " + fmtDateTime(g.last_ms) })),
          g.reason ? el("p", { class: "reason", text: g.reason }) : null,
          el("ul", { class: "examples" }, ex.map((x) => el("li", null,
            el("div", null, el("span", { class: "time", text: fmtDateTime(x.time_ms) }), " ", el("span", { class: "mono muted", text: x.session_id || "" })),
            el("div", { class: "cmd" }, el("code", { text: x.summary || "" })),
            x.explain ? copyable(x.explain) : null,
            x.allow_code ? el("div", { class: "allow" }, "allow once: ", copyable(x.allow_code)) : null,
          ))),
        ));
      }
    }
    return { root, refresh };
  })();

  function copyable(text) {
    const code = el("code", { class: "copy", text: text });
    const btn = el("button", { type: "button", class: "copybtn", text: "copy" });
    btn.addEventListener("click", () => {
      const done = () => {
        btn.textContent = "copied";
        setTimeout(() => (btn.textContent = "copy"), 1500);
      };
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text).then(done, () => selectText(code));
      } else {
        selectText(code);
      }
    });
    return el("span", { class: "copyable" }, code, " ", btn);
  }

  function selectText(node) {
    const r = document.createRange();
    r.selectNodeContents(node);
    const s = window.getSelection();
    s.removeAllRanges();
    s.addRange(r);
  }

  // ---- Rules

  views.rules = (function () {
    const root = section("rules");
    const errs = el("div");
    const [t, tbody] = table(["rule", "source", "event", "action", "hits since loaded", "hits, 24 h", "per hour, last 24 h"], "rules");
    root.append(errs, el("div", { class: "scroll" }, t));

    async function refresh() {
      const res = await api("/ui/api/rules");
      clearError(root);
      clear(errs);
      if ((res.errors || []).length) errs.appendChild(panel("Rule load errors", el("ul", { class: "errors" }, res.errors.map((e) => el("li", { text: e })))));
      clear(tbody);
      const sum = (r) => (r.hourly || []).reduce((a, b) => a + b, 0);
      // The rules that fired lately first (then by hits since loaded; file order otherwise).
      const rules = (res.rules || []).map((r, i) => [r, sum(r), i]).sort((a, b) => b[1] - a[1] || b[0].hits - a[0].hits || a[2] - b[2]);
      for (const [r, day] of rules) {
        tbody.appendChild(el("tr", { "data-rule": r.name },
          el("td", { class: "rule", text: r.name }),
          el("td", { class: "mono", text: r.source ? r.source + (r.line ? ":" + r.line : "") : "-" }),
          el("td", { text: (r.event || []).join(", ") || "any" }),
          el("td", { class: "action " + verdictClass(r.action), text: r.action }),
          el("td", { class: "num", text: String(r.hits) }),
          el("td", { class: "num", text: String(day) }),
          el("td", null, sparkline(r.hourly || [])),
        ));
      }
    }
    return { root, refresh };
  })();

  // ---- Runs

  views.runs = (function () {
    const root = section("runs");
    const failedBox = el("input", { type: "checkbox", id: "runs-failed" });
    const [t, tbody] = table(["started", "rule", "event", "mode", "attempt", "outcome", "exit", "duration", "command", "stderr (tail)"], "runs");
    root.append(el("div", { class: "toolbar" }, el("label", null, failedBox, " failures only")), el("div", { class: "scroll" }, t));
    failedBox.addEventListener("change", () => refresh().catch(showError(root)));

    async function refresh() {
      const res = await api("/ui/api/runs" + qs({ limit: 100, failed: failedBox.checked ? 1 : null }));
      clearError(root);
      clear(tbody);
      const runs = res.runs || [];
      if (!runs.length) tbody.appendChild(el("tr", null, el("td", { colspan: 10, class: "muted", text: "no runs" })));
      for (const r of runs) {
        const bad = !(r.outcome === "ok" || r.outcome === "blocked");
        const tail = r.stderr_tail || r.error || "";
        tbody.appendChild(el("tr", { class: "run" + (bad ? " failed" : "") },
          el("td", { class: "when", text: fmtDateTime(r.time_ms) }),
          el("td", { class: "rule", text: r.rule }),
          el("td", { text: r.event + (r.tool ? " · " + r.tool : "") }),
          el("td", { text: r.mode }),
          el("td", { class: "num", text: String(r.attempt) }),
          el("td", { class: "outcome", text: r.outcome }),
          el("td", { class: "num", text: r.exit_code !== null && r.exit_code !== undefined ? String(r.exit_code) : r.signal ? "signal " + r.signal : "-" }),
          el("td", { class: "num", text: fmtMs(r.duration_ms) }),
          el("td", null, el("code", { text: r.command })),
          el("td", null, tail ? el("pre", { class: "tail", text: tail }) : null),
        ));
      }
    }
    return { root, refresh };
  })();

  // ---------------------------------------------------------------- live events to screens

  function onEvent(row) {
    views.stream.live(row);
    views.sessions.live(row);
  }

  // ---------------------------------------------------------------- start

  async function start() {
    $("#tz").textContent = "times in " + tzLabel();
    for (const name of Object.keys(views)) {
      $("#tab-" + name).addEventListener("click", () => show(name));
    }
    window.addEventListener("hashchange", () => show(location.hash.slice(1)));
    show(location.hash.slice(1) || "overview");
    setConn("offline");
    // History first: the stream then starts after the newest id held.
    resume().catch(() => retryLater());
    setInterval(() => {
      if (current !== "stream" && !document.hidden && !conn.loggedOut) refreshCurrent();
    }, REFRESH_MS);
  }

  start();
})();
