//! Peak memory of one test, measured in a child process of its own (the test binary run again
//! for one test), so that other tests' allocations do not count: the child prints its RSS
//! before the work and its peak (`VmHWM`) after, with [`report`]; the parent reads them back
//! with [`run_child`].

use std::process::Command;

/// A field of `/proc/self/status`, in KiB (0 if absent).
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Whether RSS can be read here (Linux's /proc).
pub fn measurable() -> bool {
    std::path::Path::new("/proc/self/status").exists()
}

/// In the child: prints the RSS measured before the work and the peak now.
pub fn report(before_kib: u64) {
    println!("RSS_BEFORE_KIB={before_kib}");
    println!("RSS_PEAK_KIB={}", status_kib("VmHWM:"));
}

/// In the parent: runs the test `child` alone with `env` set, and returns its
/// (RSS before, peak RSS) in KiB.
pub fn run_child(child: &str, env: &str) -> (u64, u64) {
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([child, "--exact", "--nocapture", "--test-threads=1"])
        .env(env, "1")
        .output()
        .expect("the child runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |key: &str| -> u64 {
        stdout
            .lines()
            .find_map(|l| l.split_once(key).map(|(_, v)| v))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {stdout}"))
    };
    (read("RSS_BEFORE_KIB="), read("RSS_PEAK_KIB="))
}
