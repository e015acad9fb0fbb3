//! JimmyAI's published billing rules (api-facts B4, B5): per 10,000 characters of
//! `contentText` counted as Unicode scalar values without `<#x#>` pause markers, for the
//! preview (`sound-cloning-clone`) and for production audio (`sound-cloning-audio`), plus a
//! per-task voice fee on every production task (`sound-cloning-voice`). No price is published.

use super::rules::{self, count_without_pauses};
use crate::error::Error;
use crate::estimate::{Estimate, Fee, Unit, count, in_request};
use crate::model::{CloneRequest, Provider, SpeechRequest};

const PER_10K: f64 = 10_000.0;
const NO_PRICES: &str = "JimmyAI publishes no unit prices: these are counts, not amounts";
const REFUNDED: &str =
    "JimmyAI checks the balance before accepting a task and refunds failed tasks";

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
        approximate: false,
        rule: "per 10,000 characters of the preview's contentText (Unicode scalar values, pause markers not counted)",
    };
    let mut notes = vec![NO_PRICES, REFUNDED];
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
            approximate: false,
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
        vec![NO_PRICES, REFUNDED],
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

    #[test]
    fn malformed_markers_are_refused() {
        let e = estimate_speech(&[SpeechRequest::new("m", "a<#x#>b")]).unwrap_err();
        assert!(
            matches!(e.kind(), crate::ErrorKind::InvalidInput { .. }),
            "{e}"
        );
    }
}
