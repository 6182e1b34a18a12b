//! Facts from `/proc`: the machine, and a process's CPU time per thread and memory.

use std::collections::BTreeMap;

use serde_json::json;

use crate::args::Args;

/// `hook-bench machine`.
pub fn machine(argv: &[String]) -> Result<(), String> {
    let mut args = Args::new(argv);
    let mut rustc = None;
    while let Some(mut flag) = args.next_flag()? {
        match flag.name.as_str() {
            "--rustc" => rustc = Some(args.value(&mut flag)?),
            other => return Err(format!("machine: unknown flag {other}")),
        }
    }
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        cpuinfo
            .lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let out = json!({
        "nproc": std::thread::available_parallelism().map(std::num::NonZero::get).ok(),
        "cpu_model": field("model name"),
        "cpu_mhz": field("cpu MHz"),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|s| s.trim().to_string()),
        "mem_total_kb": kb_field(&meminfo, "MemTotal"),
        "rustc": rustc,
    });
    println!("{out:#}");
    Ok(())
}

/// A `key:  N kB` value from a `/proc` status-style text.
fn kb_field(text: &str, key: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// A process's memory, in kB.
pub fn memory_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some((kb_field(&status, "VmRSS")?, kb_field(&status, "VmHWM")?))
}

/// CPU time of every thread of a process: tid → (name, nanoseconds on CPU).
#[derive(Debug, Default)]
pub struct CpuSnapshot(BTreeMap<u32, (String, u64)>);

impl CpuSnapshot {
    /// Reads `/proc/<pid>/task/*/{comm,schedstat}`.
    pub fn take(pid: u32) -> Result<Self, String> {
        let dir = format!("/proc/{pid}/task");
        let entries = std::fs::read_dir(&dir).map_err(|e| format!("{dir}: {e}"))?;
        let mut threads = BTreeMap::new();
        for entry in entries.flatten() {
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            let path = entry.path();
            let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
            let Some(ns) = std::fs::read_to_string(path.join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse().ok())
            else {
                continue;
            };
            threads.insert(tid, (comm.trim().to_string(), ns));
        }
        Ok(Self(threads))
    }

    /// CPU nanoseconds spent since `before`, by thread name (threads that exited are lost).
    pub fn since(&self, before: &Self) -> BTreeMap<String, u64> {
        let mut by_name = BTreeMap::new();
        for (tid, (name, ns)) in &self.0 {
            let base = before.0.get(tid).map_or(0, |(_, b)| *b);
            *by_name.entry(name.clone()).or_insert(0) += ns.saturating_sub(base);
        }
        by_name
    }
}

/// This process's user + system CPU time in nanoseconds (all threads, exited ones included).
pub fn self_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux ABI Rust targets.
    Some((utime + stime) * 10_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kb_fields() {
        let text = "Name:\thookd\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(kb_field(text, "VmRSS"), Some(10240));
        assert_eq!(kb_field(text, "VmHWM"), Some(20480));
        assert_eq!(kb_field(text, "VmSwap"), None);
    }

    #[test]
    fn reads_own_cpu_and_threads() {
        assert!(self_cpu_ns().is_some());
        let snap = CpuSnapshot::take(std::process::id()).unwrap();
        assert!(!snap.0.is_empty());
        assert!(memory_kb(std::process::id()).is_some());
    }
}
