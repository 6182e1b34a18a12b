//! `hook-bench report`: the results file of `bench/run.sh` as Markdown tables.

use serde_json::Value;

pub fn run(argv: &[String]) -> Result<(), String> {
    let [path] = argv else {
        return Err("report: give the results file".into());
    };
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
    print!("{}", render(&v));
    Ok(())
}

/// A JSON value as table text: strings bare, null as `–`.
fn cell(v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render(v: &Value) -> String {
    let mut out = String::new();
    let m = &v["machine"];
    out.push_str(&format!(
        "Machine: {} × {} ({} MHz), kernel {}, {} kB RAM, {}\n\n",
        cell(&m["nproc"]),
        cell(&m["cpu_model"]),
        cell(&m["cpu_mhz"]),
        cell(&m["kernel"]),
        cell(&m["mem_total_kb"]),
        cell(&m["rustc"]),
    ));
    let s = &v["spawn"];
    out.push_str(&format!(
        "Spawn cost: `{} -c CMD`, {}-byte event on a stdin pipe, {} interleaved runs per \
         command (+{} warm-up)\n\n",
        cell(&s["shell"]),
        cell(&s["input_bytes"]),
        cell(&s["runs"]),
        cell(&s["warmup"]),
    ));
    out.push_str("| command | median µs | p90 µs | p99 µs | mean µs | min µs | median ratio |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|---:|\n");
    let labels = v["spawn_labels"].as_array();
    for (i, c) in s["commands"].as_array().into_iter().flatten().enumerate() {
        let label = labels
            .and_then(|l| l.get(i))
            .map_or_else(|| cell(&c["cmd"]), cell);
        let u = &c["us"];
        out.push_str(&format!(
            "| {label} | {} | {} | {} | {} | {} | {}× |\n",
            cell(&u["median"]),
            cell(&u["p90"]),
            cell(&u["p99"]),
            cell(&u["mean"]),
            cell(&u["min"]),
            cell(&c["median_ratio_to_first"]),
        ));
    }
    out.push_str(
        "\nThroughput: PreToolUse requests straight to the socket; `echo` is the stand-in that \
         answers without doing anything (the transport's and the bench's own ceiling)\n\n\
         | clients | connection | events/s | p50 µs | p99 µs | errors | hookd CPU µs/event | \
         bench CPU µs/event | echo events/s | echo p50 µs |\n\
         |---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let echoes = v["echo_throughput"].as_array();
    for t in v["throughput"].as_array().into_iter().flatten() {
        let echo = echoes
            .into_iter()
            .flatten()
            .find(|e| e["clients"] == t["clients"] && e["connection"] == t["connection"])
            .unwrap_or(&Value::Null);
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            cell(&t["clients"]),
            cell(&t["connection"]),
            cell(&t["events_per_s"]),
            cell(&t["latency_us"]["median"]),
            cell(&t["latency_us"]["p99"]),
            cell(&t["errors"]),
            cell(&t["server"]["cpu_us_per_event"]),
            cell(&t["bench_cpu_us_per_event"]),
            cell(&echo["events_per_s"]),
            cell(&echo["latency_us"]["median"]),
        ));
    }
    let mem = &v["hookd_memory"];
    out.push_str(&format!(
        "\nhookd memory: VmRSS {} kB when idle after start, {} kB after the load, \
         VmHWM (peak) {} kB\n",
        cell(&mem["idle_vm_rss_kb"]),
        cell(&mem["vm_rss_kb"]),
        cell(&mem["vm_hwm_kb"]),
    ));
    let quiet: Vec<String> = v["quiet"]
        .as_array()
        .into_iter()
        .flatten()
        .map(cell)
        .collect();
    if !quiet.is_empty() {
        out.push_str(&format!("\nQuiet checks: {}\n", quiet.join("; ")));
    }
    out
}
