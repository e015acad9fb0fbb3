//! The test process's resident set, for the memory tests (one test per binary, so that no
//! other test allocates meanwhile).

/// The resident set in MiB (Linux `/proc/self/status`); `None` elsewhere.
pub fn rss_mib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024)
}
