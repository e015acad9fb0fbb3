//! Planning a long text costs memory of the order of the text, not tens of times it: a
//! 16 MiB text (the CLI's `--text-file` cap) is planned for each provider while peak RSS
//! (`VmHWM`) of a process of its own is measured. The parent test re-runs this binary with
//! `VOICECLONE_LONG_TEXT_RSS_CHILD=1`. Before, every grapheme boundary was kept as a 24-byte
//! cut: about 400 MiB for this text.

#![cfg(feature = "long-text")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use support::rss::{measurable, report, run_child, status_kib};

use voiceclone::long_text::LongSpeechPlan;
use voiceclone::{Provider, SpeechRequest};

const TEXT_MIB: u64 = 16;

#[test]
fn long_text_rss_child() {
    if std::env::var_os("VOICECLONE_LONG_TEXT_RSS_CHILD").is_none() {
        return; // Only runs as the parent's child process.
    }
    let len = usize::try_from(TEXT_MIB * 1024 * 1024).unwrap();
    let text = "word ".repeat(len / 5);
    let jimmy = SpeechRequest::new("m1", text.as_str());
    let vmeg = SpeechRequest::new("cv_1", text);
    let before = status_kib("VmRSS:");
    for (provider, req) in [(Provider::JimmyAi, &jimmy), (Provider::Vmeg, &vmeg)] {
        let started = std::time::Instant::now();
        let plan = LongSpeechPlan::new(provider, req).unwrap();
        assert_eq!(plan.chars(), req.lines[0].text.len(), "{provider}");
        println!(
            "{provider}: {} parts in {:?}",
            plan.parts().len(),
            started.elapsed()
        );
    }
    report(before);
}

#[test]
fn planning_a_long_text_takes_memory_of_the_order_of_the_text() {
    if !measurable() {
        return; // RSS is read from Linux's /proc.
    }
    let (before, peak) = run_child("long_text_rss_child", "VOICECLONE_LONG_TEXT_RSS_CHILD");
    let grown_mib = peak.saturating_sub(before) / 1024;
    println!("planning {TEXT_MIB} MiB of text: peak RSS grew by {grown_mib} MiB");
    // The parts hold a copy of the text (one plan at a time); the cuts must not be a
    // multiple of it on top.
    assert!(
        grown_mib < 3 * TEXT_MIB,
        "peak RSS grew by {grown_mib} MiB planning {TEXT_MIB} MiB of text (before {before} KiB, peak {peak} KiB)"
    );
}
