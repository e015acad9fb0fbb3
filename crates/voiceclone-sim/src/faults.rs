//! Fault injection: [`FaultConfig`] (rates per kind, parsed from `--fault`
//! specs) and the per-request [`FaultPlan`] drawn from a seeded RNG.
//!
//! # Spec grammar
//!
//! One spec is `KIND=RATE[:ARG]`; several may be joined with commas
//! (`429=0.05,500=0.02`). `RATE` is a number in `[0,1]`.
//!
//! | kind | effect | `ARG` |
//! |---|---|---|
//! | `429` | HTTP 429 + `Retry-After`, before processing | retry-after, e.g. `2s` or `2` (default 1 s) |
//! | `500` | HTTP 500 with the vendor envelope, before processing; with `:after`, after it (the task is made, VMEG's idempotency key used; VMEG names the task in `message`, `data` staying null, JimmyAI in `data.id`) | `after` |
//! | `502`, `503` | that HTTP status with the vendor envelope, before processing | — |
//! | `business` | HTTP 200 with a failure envelope (VMEG `code` 500, JimmyAI server code), before processing; on `vmeg.materialPut` (the storage, which has no envelope) HTTP 500 | — |
//! | `drop-before` | connection closed without a response, before processing | — |
//! | `drop-after` | request fully processed (task created), then the connection is closed without a response | — |
//! | `latency` | extra delay before processing | duration, e.g. `50ms`, `1s` (default 50 ms) |
//! | `unknown-status` | task queries report status `warming_up` | — |
//! | `extra-fields` | unknown extra fields in every JSON response | — |
//! | `all` | spread `RATE` evenly across every kind above | — |
//!
//! `429`, `500`, `502`, `503`, `business`, `drop-before` and `drop-after` are
//! mutually exclusive per request (one uniform draw picks at most one);
//! `latency`, `unknown-status` and `extra-fields` are drawn independently.
//! Every request draws exactly four numbers, so the same seed and the same
//! request order give the same faults. A request no credential vouches for (a
//! wrong or missing API key, an unknown or tampered upload URL) draws none and
//! gets no fault: it is refused as without faults.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::bounds::{self, ConfigError, fmt_dur};

/// Rates (each in `[0,1]`) of every fault kind. Default: all zero.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultConfig {
    /// Rate of HTTP 429 answers.
    pub rate_429: f64,
    /// `Retry-After` sent with injected 429s. Default 1 s.
    pub retry_after: Duration,
    /// Rate of HTTP 500 answers.
    pub rate_500: f64,
    /// Whether the injected 500s come after the request was processed (spec `500=RATE:after`):
    /// the task is made and billed, then the answer is a 500. Default false (before).
    pub http500_after: bool,
    /// Rate of HTTP 502 answers.
    pub rate_502: f64,
    /// Rate of HTTP 503 answers.
    pub rate_503: f64,
    /// Rate of business errors inside HTTP 200.
    pub rate_business: f64,
    /// Rate of connections dropped before processing.
    pub rate_drop_before: f64,
    /// Rate of connections dropped after processing.
    pub rate_drop_after: f64,
    /// Rate of requests that get extra latency.
    pub rate_latency: f64,
    /// The extra latency. Default 50 ms.
    pub latency: Duration,
    /// Rate of task queries that report an unknown status value.
    pub rate_unknown_status: f64,
    /// Rate of responses with unknown extra fields.
    pub rate_extra_fields: f64,
}

impl Default for FaultConfig {
    fn default() -> Self {
        Self {
            rate_429: 0.0,
            retry_after: Duration::from_secs(1),
            rate_500: 0.0,
            http500_after: false,
            rate_502: 0.0,
            rate_503: 0.0,
            rate_business: 0.0,
            rate_drop_before: 0.0,
            rate_drop_after: 0.0,
            rate_latency: 0.0,
            latency: Duration::from_millis(50),
            rate_unknown_status: 0.0,
            rate_extra_fields: 0.0,
        }
    }
}

/// A fault spec that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FaultSpecError {
    /// No `=` in the spec.
    #[error("fault spec `{0}`: expected KIND=RATE[:ARG], e.g. `429=0.05` or `latency=0.1:50ms`")]
    Syntax(String),
    /// Unknown kind.
    #[error(
        "fault spec `{0}`: unknown kind; expected one of 429, 500, 502, 503, business, drop-before, drop-after, latency, unknown-status, extra-fields, all"
    )]
    UnknownKind(String),
    /// Rate not a number in `[0,1]`.
    #[error("fault spec `{0}`: rate must be a number in [0,1]")]
    BadRate(String),
    /// Bad or unexpected `:ARG`.
    #[error("fault spec `{0}`: {1}")]
    BadArg(String, &'static str),
}

/// The kinds of fault, with stable names used in [`crate::Stats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FaultKind {
    /// HTTP 429.
    TooManyRequests,
    /// HTTP 500.
    Http500,
    /// HTTP 502.
    Http502,
    /// HTTP 503.
    Http503,
    /// Failure envelope inside HTTP 200.
    Business,
    /// Connection closed before processing.
    DropBefore,
    /// Connection closed after processing.
    DropAfter,
    /// Extra latency.
    Latency,
    /// Unknown task status value.
    UnknownStatus,
    /// Unknown extra response fields.
    ExtraFields,
}

impl FaultKind {
    /// Every kind.
    pub const ALL: [FaultKind; 10] = [
        Self::TooManyRequests,
        Self::Http500,
        Self::Http502,
        Self::Http503,
        Self::Business,
        Self::DropBefore,
        Self::DropAfter,
        Self::Latency,
        Self::UnknownStatus,
        Self::ExtraFields,
    ];

    /// Stable name (same as the spec kind).
    pub fn name(self) -> &'static str {
        match self {
            Self::TooManyRequests => "429",
            Self::Http500 => "500",
            Self::Http502 => "502",
            Self::Http503 => "503",
            Self::Business => "business",
            Self::DropBefore => "drop-before",
            Self::DropAfter => "drop-after",
            Self::Latency => "latency",
            Self::UnknownStatus => "unknown-status",
            Self::ExtraFields => "extra-fields",
        }
    }
}

impl FaultKind {
    /// Whether this fault comes after the request was processed (the task made, VMEG's key
    /// used): `drop-after` always, a 500 when asked (`500:after`).
    pub(crate) fn after_processing(self, http500_after: bool) -> bool {
        match self {
            Self::DropAfter => true,
            Self::Http500 => http500_after,
            _ => false,
        }
    }
}

impl fmt::Display for FaultKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parse `50ms`, `2s` or `2` (seconds), at most `max`.
fn parse_duration(s: &str, max: Duration) -> Result<Duration, &'static str> {
    const SHAPE: &str = "ARG must be a duration such as `50ms`, `2s` or `2`";
    let s = s.trim();
    let (num, mult) = if let Some(n) = s.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else {
        (s, 1.0)
    };
    let v: f64 = num.trim().parse().map_err(|_| SHAPE)?;
    if !v.is_finite() || v < 0.0 {
        return Err("ARG must be a finite, non-negative duration");
    }
    let d = Duration::try_from_secs_f64(v * mult).map_err(|_| "ARG is too large")?;
    if d > max {
        return Err(if max == bounds::MAX_LATENCY {
            "latency ARG must be at most 600s"
        } else {
            "Retry-After ARG must be at most 86400s"
        });
    }
    Ok(d)
}

impl FaultConfig {
    /// No faults.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parse and merge several specs (e.g. the values of repeated `--fault`
    /// flags), later ones overriding earlier ones kind by kind.
    pub fn parse_many<I, S>(specs: I) -> Result<Self, FaultSpecError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut cfg = Self::default();
        for s in specs {
            cfg.apply_spec(s.as_ref())?;
        }
        Ok(cfg)
    }

    /// Combine: every non-zero rate (and its argument) in `other` overrides
    /// the one in `self`.
    pub fn merge(mut self, other: &FaultConfig) -> Self {
        let pairs: [(&mut f64, f64); 10] = [
            (&mut self.rate_429, other.rate_429),
            (&mut self.rate_500, other.rate_500),
            (&mut self.rate_502, other.rate_502),
            (&mut self.rate_503, other.rate_503),
            (&mut self.rate_business, other.rate_business),
            (&mut self.rate_drop_before, other.rate_drop_before),
            (&mut self.rate_drop_after, other.rate_drop_after),
            (&mut self.rate_latency, other.rate_latency),
            (&mut self.rate_unknown_status, other.rate_unknown_status),
            (&mut self.rate_extra_fields, other.rate_extra_fields),
        ];
        for (mine, theirs) in pairs {
            if theirs > 0.0 {
                *mine = theirs;
            }
        }
        if other.rate_429 > 0.0 {
            self.retry_after = other.retry_after;
        }
        if other.rate_500 > 0.0 {
            self.http500_after = other.http500_after;
        }
        if other.rate_latency > 0.0 {
            self.latency = other.latency;
        }
        self
    }

    /// Check every rate is in `[0,1]` and the durations are within their
    /// bounds (`retry_after` at most 1 day, `latency` at most 10 minutes).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, r) in [
            ("faults.rate_429", self.rate_429),
            ("faults.rate_500", self.rate_500),
            ("faults.rate_502", self.rate_502),
            ("faults.rate_503", self.rate_503),
            ("faults.rate_business", self.rate_business),
            ("faults.rate_drop_before", self.rate_drop_before),
            ("faults.rate_drop_after", self.rate_drop_after),
            ("faults.rate_latency", self.rate_latency),
            ("faults.rate_unknown_status", self.rate_unknown_status),
            ("faults.rate_extra_fields", self.rate_extra_fields),
        ] {
            if !(r.is_finite() && (0.0..=1.0).contains(&r)) {
                return Err(ConfigError::out_of_bounds(
                    name,
                    "a number in [0, 1]",
                    format!("{r:?}"),
                ));
            }
        }
        if self.retry_after > bounds::MAX_RETRY_AFTER {
            return Err(ConfigError::out_of_bounds(
                "faults.retry_after",
                "at most 1 day",
                fmt_dur(self.retry_after),
            ));
        }
        if self.latency > bounds::MAX_LATENCY {
            return Err(ConfigError::out_of_bounds(
                "faults.latency",
                "at most 10 minutes",
                fmt_dur(self.latency),
            ));
        }
        Ok(())
    }

    /// Whether any fault can happen.
    pub fn is_active(&self) -> bool {
        [
            self.rate_429,
            self.rate_500,
            self.rate_502,
            self.rate_503,
            self.rate_business,
            self.rate_drop_before,
            self.rate_drop_after,
            self.rate_latency,
            self.rate_unknown_status,
            self.rate_extra_fields,
        ]
        .iter()
        .any(|r| *r > 0.0)
    }

    fn apply_spec(&mut self, spec: &str) -> Result<(), FaultSpecError> {
        for one in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            self.apply_one(one)?;
        }
        Ok(())
    }

    fn apply_one(&mut self, spec: &str) -> Result<(), FaultSpecError> {
        let (kind, rest) = spec
            .split_once('=')
            .ok_or_else(|| FaultSpecError::Syntax(spec.to_string()))?;
        let (rate_s, arg) = match rest.split_once(':') {
            Some((r, a)) => (r, Some(a)),
            None => (rest, None),
        };
        let rate: f64 = rate_s
            .trim()
            .parse()
            .map_err(|_| FaultSpecError::BadRate(spec.to_string()))?;
        if !(rate.is_finite() && (0.0..=1.0).contains(&rate)) {
            return Err(FaultSpecError::BadRate(spec.to_string()));
        }
        let no_arg = |arg: Option<&str>| -> Result<(), FaultSpecError> {
            match arg {
                Some(_) => Err(FaultSpecError::BadArg(
                    spec.to_string(),
                    "this kind takes no `:ARG`",
                )),
                None => Ok(()),
            }
        };
        let dur_arg =
            |arg: Option<&str>, max: Duration| -> Result<Option<Duration>, FaultSpecError> {
                match arg {
                    None => Ok(None),
                    Some(a) => parse_duration(a, max)
                        .map(Some)
                        .map_err(|why| FaultSpecError::BadArg(spec.to_string(), why)),
                }
            };
        let (max_retry_after, max_latency) = (bounds::MAX_RETRY_AFTER, bounds::MAX_LATENCY);
        match kind.trim().to_ascii_lowercase().as_str() {
            "429" => {
                self.rate_429 = rate;
                if let Some(d) = dur_arg(arg, max_retry_after)? {
                    self.retry_after = d;
                }
            }
            "500" => {
                self.http500_after = match arg.map(str::trim) {
                    None => false,
                    Some("after") => true,
                    Some(_) => {
                        return Err(FaultSpecError::BadArg(
                            spec.to_string(),
                            "the 500 kind's only ARG is `after` (the 500 comes after processing)",
                        ));
                    }
                };
                self.rate_500 = rate;
            }
            "502" => {
                no_arg(arg)?;
                self.rate_502 = rate;
            }
            "503" => {
                no_arg(arg)?;
                self.rate_503 = rate;
            }
            "business" => {
                no_arg(arg)?;
                self.rate_business = rate;
            }
            "drop-before" => {
                no_arg(arg)?;
                self.rate_drop_before = rate;
            }
            "drop-after" => {
                no_arg(arg)?;
                self.rate_drop_after = rate;
            }
            "latency" => {
                self.rate_latency = rate;
                if let Some(d) = dur_arg(arg, max_latency)? {
                    self.latency = d;
                }
            }
            "unknown-status" => {
                no_arg(arg)?;
                self.rate_unknown_status = rate;
            }
            "extra-fields" => {
                no_arg(arg)?;
                self.rate_extra_fields = rate;
            }
            "all" => {
                if let Some(d) = dur_arg(arg, max_latency)? {
                    self.latency = d;
                }
                let each = rate / 10.0;
                self.rate_429 = each;
                self.rate_500 = each;
                self.http500_after = false;
                self.rate_502 = each;
                self.rate_503 = each;
                self.rate_business = each;
                self.rate_drop_before = each;
                self.rate_drop_after = each;
                self.rate_latency = each;
                self.rate_unknown_status = each;
                self.rate_extra_fields = each;
            }
            _ => return Err(FaultSpecError::UnknownKind(spec.to_string())),
        }
        Ok(())
    }

    /// Draw the faults for one request. Always draws exactly four numbers.
    pub(crate) fn draw(&self, rng: &mut fastrand::Rng) -> FaultPlan {
        let u = rng.f64();
        let lat = rng.f64();
        let unk = rng.f64();
        let extra = rng.f64();
        let exclusive = [
            (FaultKind::TooManyRequests, self.rate_429),
            (FaultKind::Http500, self.rate_500),
            (FaultKind::Http502, self.rate_502),
            (FaultKind::Http503, self.rate_503),
            (FaultKind::Business, self.rate_business),
            (FaultKind::DropBefore, self.rate_drop_before),
            (FaultKind::DropAfter, self.rate_drop_after),
        ];
        let mut acc = 0.0;
        let mut chosen = None;
        for (kind, rate) in exclusive {
            acc += rate;
            if u < acc {
                chosen = Some(kind);
                break;
            }
        }
        FaultPlan {
            exclusive: chosen,
            after_processing: chosen.is_some_and(|k| k.after_processing(self.http500_after)),
            latency: (lat < self.rate_latency).then_some(self.latency),
            unknown_status: unk < self.rate_unknown_status,
            extra_fields: extra < self.rate_extra_fields,
            retry_after: self.retry_after,
        }
    }
}

impl FromStr for FaultConfig {
    type Err = FaultSpecError;

    /// Parse one spec (or several joined by commas); see the module docs.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut cfg = Self::default();
        if s.trim().is_empty() {
            return Err(FaultSpecError::Syntax(s.to_string()));
        }
        cfg.apply_spec(s)?;
        Ok(cfg)
    }
}

/// The faults chosen for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct FaultPlan {
    pub exclusive: Option<FaultKind>,
    /// The exclusive fault comes after the request was processed (`drop-after`, `500:after`).
    pub after_processing: bool,
    pub latency: Option<Duration>,
    pub unknown_status: bool,
    pub extra_fields: bool,
    pub retry_after: Duration,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_specs() {
        let c: FaultConfig = "429=0.05:3s".parse().unwrap();
        assert_eq!(c.rate_429, 0.05);
        assert_eq!(c.retry_after, Duration::from_secs(3));
        let c: FaultConfig = "latency=0.1:50ms".parse().unwrap();
        assert_eq!(c.latency, Duration::from_millis(50));
        let c = FaultConfig::parse_many(["500=0.02", "drop-after=0.01,extra-fields=1"]).unwrap();
        assert_eq!(c.rate_500, 0.02);
        assert_eq!(c.rate_drop_after, 0.01);
        assert_eq!(c.rate_extra_fields, 1.0);
        let c: FaultConfig = "all=0.2".parse().unwrap();
        assert!((c.rate_503 - 0.02).abs() < 1e-12);
        assert!("nope=0.1".parse::<FaultConfig>().is_err());
        assert!("500=2".parse::<FaultConfig>().is_err());
        assert!("500".parse::<FaultConfig>().is_err());
        assert!("500=0.1:3s".parse::<FaultConfig>().is_err());
        assert!("latency=0.1:fast".parse::<FaultConfig>().is_err());
        let m = FaultConfig::default().merge(&"503=0.5".parse().unwrap());
        assert_eq!(m.rate_503, 0.5);
    }

    #[test]
    fn refuses_arguments_that_cannot_be_honoured() {
        for (spec, why) in [
            ("429=0.5:1e300s", "too large"),
            ("latency=1:1e20", "too large"),
            ("latency=1:601s", "at most 600s"),
            ("429=0.5:86401", "at most 86400s"),
            ("all=0.5:1e300ms", "too large"),
            ("latency=1:NaNs", "finite"),
            ("latency=1:infms", "finite"),
            ("429=1:-2s", "non-negative"),
            ("429=NaN", "rate"),
            ("500=-0.1", "rate"),
            ("500=inf", "rate"),
            ("500=1.5", "rate"),
        ] {
            let e = spec.parse::<FaultConfig>().unwrap_err();
            assert!(e.to_string().contains(why), "{spec}: {e}");
        }
        let c: FaultConfig = "latency=1:600s,429=1:86400".parse().unwrap();
        assert!(c.validate().is_ok());
        let c = FaultConfig {
            latency: Duration::MAX,
            ..FaultConfig::default()
        };
        assert!(c.validate().is_err());
        let c = FaultConfig {
            rate_drop_after: f64::NAN,
            ..FaultConfig::default()
        };
        assert!(c.validate().is_err());
    }

    proptest::proptest! {
        /// Any spec text either parses into a valid configuration or is refused; never a panic.
        #[test]
        fn any_spec_parses_valid_or_is_refused(spec in "\\PC{0,40}", num in proptest::num::f64::ANY, unit in "(ms|s|)") {
            if let Ok(c) = spec.parse::<FaultConfig>() {
                proptest::prop_assert!(c.validate().is_ok());
            }
            for kind in ["429", "latency", "all", "500"] {
                let s = format!("{kind}={}:{num}{unit}", num.abs().min(1.0));
                if let Ok(c) = s.parse::<FaultConfig>() {
                    proptest::prop_assert!(c.validate().is_ok(), "{s}");
                }
                let s = format!("{kind}={num}");
                if let Ok(c) = s.parse::<FaultConfig>() {
                    proptest::prop_assert!(c.validate().is_ok(), "{s}");
                }
            }
        }
    }
}
