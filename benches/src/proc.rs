//! Process figures read from `/proc` (Linux): CPU time and resident memory.
//!
//! No `unsafe` (the workspace forbids it), hence `/proc` rather than `getrusage`.

use std::time::Duration;

/// `USER_HZ`: the unit of the tick counts in `/proc/*/stat` (100 on every Linux target).
const TICKS_PER_SECOND: u64 = 100;

/// User and system CPU time of this whole process (every thread, including exited ones),
/// from `/proc/self/stat` fields 14 and 15. Resolution: 10 ms.
pub fn process_cpu() -> Option<(Duration, Duration)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) may contain spaces: split after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state), so field n is at index n - 3.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    let tick = |t: u64| Duration::from_millis(t * 1000 / TICKS_PER_SECOND);
    Some((tick(utime), tick(stime)))
}

/// CPU time (user + system) of the live threads of this process, in nanoseconds: the sum of
/// the first field of `/proc/self/task/*/schedstat`. Nanosecond resolution; threads that
/// already exited are not counted (the benchmarks keep their runtimes alive).
pub fn threads_cpu() -> Option<Duration> {
    let mut total: u64 = 0;
    for entry in std::fs::read_dir("/proc/self/task").ok()? {
        let Ok(entry) = entry else { continue };
        let Ok(text) = std::fs::read_to_string(entry.path().join("schedstat")) else {
            continue;
        };
        if let Some(ns) = text
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
        {
            total = total.saturating_add(ns);
        }
    }
    Some(Duration::from_nanos(total))
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Peak resident set size (`VmHWM`), bytes.
pub fn peak_rss() -> Option<u64> {
    status_kib("VmHWM:").map(|k| k * 1024)
}

/// Current resident set size (`VmRSS`), bytes.
pub fn rss() -> Option<u64> {
    status_kib("VmRSS:").map(|k| k * 1024)
}

/// Resets `VmHWM` to the current RSS (writes `5` to `/proc/self/clear_refs`). Returns
/// false when the kernel refused (then the peak includes earlier phases).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// Bytes as MiB with one decimal.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let (u, s) = process_cpu().unwrap_or_default();
        assert!(u + s < Duration::from_secs(3600));
        assert!(threads_cpu().is_some());
        assert!(peak_rss().unwrap_or(0) >= rss().unwrap_or(0) / 2);
    }
}
