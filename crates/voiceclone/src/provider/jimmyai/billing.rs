//! JimmyAI's published billing rules (api-facts B4, B5): per 10,000 characters of
//! `contentText` counted as Unicode scalar values without `<#x#>` pause markers, for the
//! preview (`sound-cloning-clone`) and for production audio (`sound-cloning-audio`), plus a
//! per-task voice fee on every production task (`sound-cloning-voice`). No price is published,
//! nor whether a part of 10,000 characters is rounded up (per task or in all): the quantities
//! are the exact fractions, marked approximate (see [`ROUNDING`]). Refunds of failed tasks are
//! documented for previews only (B4), so only the clone estimate says so.

use super::rules::{self, count_without_pauses};
use crate::error::Error;
use crate::estimate::{Estimate, Fee, Unit, count, in_request};
use crate::model::{CloneRequest, Provider, SpeechRequest};

const PER_10K: f64 = 10_000.0;
const NO_PRICES: &str = "JimmyAI publishes no unit prices: these are counts, not amounts";
/// B4 (previews): the balance is checked before the task is accepted; failed tasks are
/// refunded. Said of previews only.
const REFUNDED: &str =
    "JimmyAI checks the balance before accepting a preview task and refunds failed preview tasks";
/// B5 (production): no refund is documented, and the voice fee is charged on every
/// submission.
const NOT_REFUNDED: &str = "JimmyAI documents no refund of a failed production task (refunds are documented for preview tasks only), and charges the voice fee on every production submission";
/// Whether a part block is rounded up is not published. The exact fraction is given, marked
/// approximate, rather than the rounded-up block count: an upper bound would bill a
/// 20-character preview as a whole block (500 times the fraction) and, summed over tasks,
/// differs by whether the rounding is per task or in all, which is not published either.
const ROUNDING: &str = "JimmyAI does not publish how it rounds a part of 10,000 characters: the quantity is the exact fraction (approximate); if each task is rounded up to whole blocks, a task is billed at most ceil(characters / 10,000) blocks";

fn counted(field: &str, text: &str) -> Result<u64, Error> {
    let n = count_without_pauses(text).map_err(|reason| Error::invalid_input(field, reason))?;
    Ok(u64::try_from(n).unwrap_or(u64::MAX))
}

pub(crate) fn estimate_clone(req: &CloneRequest) -> Result<Estimate, Error> {
    rules::clone_checks(req)?;
    let characters = match &req.sample_text {
        Some(t) => Some(counted("sample_text", t)?),
        None => None,
    };
    let fee = Fee {
        name: "sound-cloning-clone",
        unit: Unit::Per10kCharacters,
        quantity: characters.map(|c| count(c) / PER_10K),
        characters,
        tasks: 1,
        price_published: false,
        approximate: true,
        rule: "per 10,000 characters of the preview's contentText (Unicode scalar values, pause markers not counted)",
    };
    let mut notes = vec![NO_PRICES, REFUNDED];
    if characters.is_some() {
        notes.push(ROUNDING);
    }
    if characters.is_none() {
        notes.push(
            "no preview line given (sample_text / --text): JimmyAI bills its built-in default line, whose length is not published, so the characters are unknown",
        );
    }
    Ok(Estimate::from_fees(Provider::JimmyAi, 1, vec![fee], notes))
}

pub(crate) fn estimate_speech(reqs: &[SpeechRequest]) -> Result<Estimate, Error> {
    let mut characters: u64 = 0;
    for (i, req) in reqs.iter().enumerate() {
        rules::speech_request(req).map_err(|e| in_request(e, i, reqs.len()))?;
        for line in &req.lines {
            let n = counted("text", &line.text).map_err(|e| in_request(e, i, reqs.len()))?;
            characters = characters.saturating_add(n);
        }
    }
    let tasks = u64::try_from(reqs.len()).unwrap_or(u64::MAX);
    let fees = vec![
        Fee {
            name: "sound-cloning-audio",
            unit: Unit::Per10kCharacters,
            quantity: Some(count(characters) / PER_10K),
            characters: Some(characters),
            tasks,
            price_published: false,
            approximate: true,
            rule: "per 10,000 characters of contentText (Unicode scalar values, pause markers not counted)",
        },
        Fee {
            name: "sound-cloning-voice",
            unit: Unit::Task,
            quantity: Some(count(tasks)),
            characters: None,
            tasks,
            price_published: false,
            approximate: false,
            rule: "a voice fee on every production task, whatever its length (so fewer, longer tasks pay it fewer times)",
        },
    ];
    Ok(Estimate::from_fees(
        Provider::JimmyAi,
        tasks,
        fees,
        vec![NO_PRICES, NOT_REFUNDED, ROUNDING],
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn preview_counts_its_line_or_says_it_cannot() {
        let e = estimate_clone(
            &CloneRequest::new("https://a.example/s.wav").sample_text("你好<#1.5#>世界"),
        )
        .unwrap();
        assert_eq!(e.fees[0].characters, Some(4));
        assert_eq!(e.fees[0].quantity, Some(0.0004));
        assert_eq!(e.total_credits, None);
        let e = estimate_clone(&CloneRequest::new("https://a.example/s.wav")).unwrap();
        assert_eq!(e.fees[0].characters, None);
        assert_eq!(e.fees[0].quantity, None);
        assert!(e.notes.iter().any(|n| n.contains("default line")));
    }

    #[test]
    fn production_counts_characters_and_tasks() {
        let reqs = [
            SpeechRequest::new("m", "a".repeat(9_000) + "<#2#>"),
            SpeechRequest::new("m", "b".repeat(6_000)),
        ];
        let e = estimate_speech(&reqs).unwrap();
        assert_eq!(e.fees[0].characters, Some(15_000));
        assert_eq!(e.fees[0].quantity, Some(1.5));
        assert_eq!(e.fees[1].quantity, Some(2.0));
        assert_eq!(e.tasks, 2);
    }

    /// B4 documents refunds of failed tasks for previews; B5 documents none for production
    /// tasks (and a voice fee on every submission): the speech estimate never says "refunds".
    #[test]
    fn refunds_are_promised_for_previews_only() {
        let clone = estimate_clone(&CloneRequest::new("https://a.example/s.wav")).unwrap();
        assert!(
            clone
                .notes
                .iter()
                .any(|n| n.contains("refunds failed preview"))
        );
        let speech = estimate_speech(&[SpeechRequest::new("m", "hi")]).unwrap();
        assert!(
            !speech.notes.iter().any(|n| n.contains("refunds failed")),
            "{:?}",
            speech.notes
        );
        assert!(
            speech
                .notes
                .iter()
                .any(|n| n.contains("no refund of a failed production task")),
            "{:?}",
            speech.notes
        );
    }

    /// The rounding of a part of 10,000 characters is not published: the per-10k quantities
    /// are marked approximate and a note says so (the voice fee, a count of tasks, is exact).
    #[test]
    fn per_10k_quantities_are_approximate_and_say_why() {
        let clone = estimate_clone(&CloneRequest::new("https://a.example/s.wav").sample_text("hi"))
            .unwrap();
        assert!(clone.fees[0].approximate && clone.approximate());
        assert!(clone.notes.contains(&ROUNDING));
        let speech = estimate_speech(&[SpeechRequest::new("m", "hi")]).unwrap();
        assert!(speech.fees[0].approximate);
        assert!(!speech.fees[1].approximate, "a task count is exact");
        assert!(speech.notes.contains(&ROUNDING));
        assert!(ROUNDING.contains("rounds"));
    }

    #[test]
    fn malformed_markers_are_refused() {
        let e = estimate_speech(&[SpeechRequest::new("m", "a<#x#>b")]).unwrap_err();
        assert!(
            matches!(e.kind(), crate::ErrorKind::InvalidInput { .. }),
            "{e}"
        );
    }
}
