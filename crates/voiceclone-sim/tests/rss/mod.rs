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

/// The peak resident set so far in MiB (Linux `VmHWM`); `None` elsewhere.
#[allow(dead_code)] // not every memory test measures a peak
pub fn peak_mib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = s
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb / 1024)
}
