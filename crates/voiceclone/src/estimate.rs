//! What a call will cost, before it is sent: the billable units of a clone or of a list of
//! speech requests, by each vendor's published rule ([`Estimate`]). Nothing is sent to
//! compute it; the request is checked by the provider's rules first, so an estimate of a
//! request that would be refused is the same `InvalidInput` the call would return.
//!
//! | vendor  | call   | fee (vendor's name)      | unit                | published rule |
//! |---------|--------|--------------------------|---------------------|----------------|
//! | VMEG    | clone  | `vmeg.clone`             | credits             | 10 credits per successful clone |
//! | VMEG    | speech | `vmeg.tts`               | credits             | about 2 credits per 200 characters (rounding not published) |
//! | JimmyAI | clone  | `sound-cloning-clone`    | per 10,000 characters | the preview's `contentText`, pause markers not counted; without it the default line (length not published) |
//! | JimmyAI | speech | `sound-cloning-audio`    | per 10,000 characters | `contentText`, Unicode scalar values, `<#x#>` pause markers not counted |
//! | JimmyAI | speech | `sound-cloning-voice`    | per task            | a voice fee on every production task |
//!
//! JimmyAI publishes no prices: its fees are counted (characters, tasks), never priced; its
//! per-10,000-character quantities are exact fractions marked approximate (its rounding is not
//! published), and refunds of failed tasks are documented for previews only.
//!
//! ```
//! use voiceclone::estimate::{Estimate, Unit};
//! use voiceclone::{CloneRequest, Provider, SpeechRequest};
//!
//! let e = Estimate::clone_voice(Provider::Vmeg, &CloneRequest::new("https://cdn.example.com/s.wav"))?;
//! assert_eq!(e.total_credits, Some(10.0));
//!
//! let e = Estimate::speech(
//!     Provider::JimmyAi,
//!     &[SpeechRequest::new("model-1", "Hello <#0.5#> there.")],
//! )?;
//! assert_eq!(e.fees[0].characters, Some(13)); // the pause marker is not counted
//! assert_eq!(e.fees[1].unit, Unit::Task);
//! assert_eq!(e.fees[1].quantity, Some(1.0)); // one production task: one voice fee
//! assert_eq!(e.total_credits, None); // JimmyAI prices are not published
//! # Ok::<(), voiceclone::Error>(())
//! ```

mod plan;

use serde::Serialize;

pub use plan::{DryRun, GENERATED, PlannedRequest};

use crate::error::Error;
use crate::model::{CloneRequest, Provider, SpeechRequest};
use crate::provider::offline;

/// What one billable fee is counted in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Unit {
    /// VMEG credits (the account's one balance).
    Credits,
    /// Blocks of 10,000 characters (JimmyAI's `per_10k_char` price mode; whether a part block
    /// is rounded up is not published, so the quantity is the exact fraction, marked
    /// [`Fee::approximate`]).
    Per10kCharacters,
    /// One per task submitted.
    Task,
}

/// One fee a call incurs.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Fee {
    /// The fee's name (JimmyAI's billing config names; `vmeg.clone`, `vmeg.tts` for VMEG).
    pub name: &'static str,
    /// What it is counted in.
    pub unit: Unit,
    /// How many units: credits, fractions of 10,000 characters, or tasks. `None` when it
    /// cannot be known before sending (JimmyAI's default preview line).
    pub quantity: Option<f64>,
    /// The characters counted for it (`None` when not counted by characters, or unknown).
    pub characters: Option<u64>,
    /// The tasks it applies to.
    pub tasks: u64,
    /// Whether the vendor publishes the unit's price (VMEG credits: yes; JimmyAI: no).
    pub price_published: bool,
    /// Whether the quantity is approximate: the vendor's own "about" (VMEG), or a rule whose
    /// rounding is not published (JimmyAI's blocks of 10,000 characters).
    pub approximate: bool,
    /// The published rule, in words.
    pub rule: &'static str,
}

/// The billable units of one or more requests to one provider, by its published rules.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Estimate {
    /// The provider.
    pub provider: Provider,
    /// Tasks that would be submitted.
    pub tasks: u64,
    /// Each fee.
    pub fees: Vec<Fee>,
    /// VMEG: the credits in all (approximate when any fee is). `None` when a price is not
    /// published or a quantity is not known (JimmyAI).
    pub total_credits: Option<f64>,
    /// What the numbers do not say (unpublished prices, unknown lengths, refunds).
    pub notes: Vec<&'static str>,
}

impl Estimate {
    /// The billable units of cloning with `req` (checked by the provider's rules first, the
    /// recording's URL included; only whether its host may be private is left to the
    /// client's `allow_private_urls`, which an estimate does not know; a local recording's
    /// upload is not billed by either vendor).
    pub fn clone_voice(provider: Provider, req: &CloneRequest) -> Result<Estimate, Error> {
        (offline(provider).estimate_clone)(req).map_err(|e| e.with_provider(provider))
    }

    /// The billable units of submitting every request in `reqs`, one task each (checked by
    /// the provider's rules first; `InvalidInput` names the request as `requests[i]`).
    pub fn speech(provider: Provider, reqs: &[SpeechRequest]) -> Result<Estimate, Error> {
        // The voice ids first, as `Client::synthesize` checks them: another provider's id or
        // an expired unactivated JimmyAI model is refused here as it is there.
        let now = std::time::SystemTime::now();
        for (i, req) in reqs.iter().enumerate() {
            req.check_voice_ids(provider, now)
                .map_err(|e| in_request(e, i, reqs.len()).with_provider(provider))?;
        }
        (offline(provider).estimate_speech)(reqs).map_err(|e| e.with_provider(provider))
    }

    /// Adds up `fees` into an estimate: credits are totalled only when every fee is in
    /// published credits with a known quantity.
    pub(crate) fn from_fees(
        provider: Provider,
        tasks: u64,
        fees: Vec<Fee>,
        notes: Vec<&'static str>,
    ) -> Estimate {
        let total_credits = fees
            .iter()
            .map(|f| match (f.unit, f.quantity) {
                (Unit::Credits, Some(q)) if f.price_published => Some(q),
                _ => None,
            })
            .sum::<Option<f64>>();
        Estimate {
            provider,
            tasks,
            fees,
            total_credits,
            notes,
        }
    }

    /// Whether any fee is an approximation.
    pub fn approximate(&self) -> bool {
        self.fees.iter().any(|f| f.approximate)
    }
}

/// Prefixes an `InvalidInput` field with `requests[i].` when there are several requests.
pub(crate) fn in_request(e: Error, i: usize, n: usize) -> Error {
    if n <= 1 {
        return e;
    }
    match e.kind() {
        crate::ErrorKind::InvalidInput { field, reason } => {
            let (field, reason) = (format!("requests[{i}].{field}"), reason.clone());
            e.with_kind(crate::ErrorKind::InvalidInput { field, reason })
        }
        _ => e,
    }
}

/// `n` as a quantity (counts stay far below 2^53, where f64 is exact).
pub(crate) fn count(n: u64) -> f64 {
    n as f64
}
