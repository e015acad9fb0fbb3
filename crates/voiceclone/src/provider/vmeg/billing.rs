//! VMEG's published billing rules (api-facts A14): 10 credits per successful clone, about 2
//! credits per 200 characters of TTS.

use super::rules;
use crate::error::Error;
use crate::estimate::{Estimate, Fee, Unit, count, in_request};
use crate::model::{CloneRequest, Provider, SpeechRequest};

/// Credits per successful clone.
pub(crate) const CLONE_CREDITS: f64 = 10.0;
/// TTS: about this many credits ...
const TTS_CREDITS: f64 = 2.0;
/// ... per this many characters.
const TTS_CHARACTERS: f64 = 200.0;

pub(crate) fn estimate_clone(req: &CloneRequest) -> Result<Estimate, Error> {
    rules::clone_checks(req)?;
    let fee = Fee {
        name: "vmeg.clone",
        unit: Unit::Credits,
        quantity: Some(CLONE_CREDITS),
        characters: None,
        tasks: 1,
        price_published: true,
        approximate: false,
        rule: "10 credits per successful clone (charged once per clone job; a failed clone is not charged)",
    };
    let mut notes = vec!["credits are taken when the task is accepted and processed"];
    if req.audio_url().is_none() {
        notes.push("the upload of a local recording (a material) is not listed as billable");
    }
    Ok(Estimate::from_fees(Provider::Vmeg, 1, vec![fee], notes))
}

pub(crate) fn estimate_speech(reqs: &[SpeechRequest]) -> Result<Estimate, Error> {
    let mut characters: u64 = 0;
    let mut markers = false;
    for (i, req) in reqs.iter().enumerate() {
        rules::speech_request(req).map_err(|e| in_request(e, i, reqs.len()))?;
        markers = markers || rules::pause_markers(req) > 0;
        for line in &req.lines {
            let n = u64::try_from(line.text.chars().count()).unwrap_or(u64::MAX);
            characters = characters.saturating_add(n);
        }
    }
    let tasks = u64::try_from(reqs.len()).unwrap_or(u64::MAX);
    let fee = Fee {
        name: "vmeg.tts",
        unit: Unit::Credits,
        quantity: Some(count(characters) * TTS_CREDITS / TTS_CHARACTERS),
        characters: Some(characters),
        tasks,
        price_published: true,
        approximate: true,
        rule: "about 2 credits per 200 characters (VMEG's own \"about\"; how it counts characters and rounds is not published: this counts Unicode scalar values of every line)",
    };
    let mut notes = vec!["credits are taken when the task is accepted and processed"];
    if markers {
        notes.push(
            "the text holds `<#x#>` pause markers (JimmyAI's syntax): VMEG has none, so it speaks them and they are counted and billed as text",
        );
    }
    Ok(Estimate::from_fees(Provider::Vmeg, tasks, vec![fee], notes))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn clone_is_ten_credits() {
        let e = estimate_clone(&CloneRequest::new("https://a.example/s.wav")).unwrap();
        assert_eq!(e.total_credits, Some(10.0));
        assert_eq!(e.tasks, 1);
        assert!(!e.approximate());
    }

    #[test]
    fn tts_is_about_two_credits_per_200_characters() {
        let reqs = [
            SpeechRequest::new("v", "a".repeat(150)).add_line("v", "é".repeat(50)),
            SpeechRequest::new("v", "b".repeat(200)),
        ];
        let e = estimate_speech(&reqs).unwrap();
        assert_eq!(e.fees[0].characters, Some(400));
        assert_eq!(e.total_credits, Some(4.0));
        assert_eq!(e.tasks, 2);
        assert!(e.approximate());
    }

    #[test]
    fn a_refused_request_is_named() {
        let reqs = [SpeechRequest::new("v", "ok"), SpeechRequest::new("v", "  ")];
        let e = estimate_speech(&reqs).unwrap_err();
        assert!(
            matches!(e.kind(), crate::ErrorKind::InvalidInput { field, .. } if field == "requests[1].lines[0].text"),
            "{e}"
        );
    }
}
