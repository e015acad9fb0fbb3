//! Scripted faults: "the next N calls of this operation get this fault", set
//! at run time with [`crate::SimHandle::fail_next`], next to the seeded
//! random faults of [`crate::FaultConfig`].

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::bounds;
use crate::faults::{FaultKind, FaultPlan};

/// Every operation name the simulator routes, as used in [`crate::Stats`]
/// and accepted by [`crate::SimHandle::fail_next`].
pub const OPERATIONS: &[&str] = &[
    "vmeg.cloneVoiceCreate",
    "vmeg.cloneVoiceCreateAsync",
    "vmeg.ttsCreate",
    "vmeg.ttsCreateAsync",
    "vmeg.tasksList",
    "vmeg.tasksDetail",
    "vmeg.tasksDelete",
    "vmeg.cloneVoiceList",
    "vmeg.cloneVoiceUpdate",
    "vmeg.cloneVoiceDelete",
    "vmeg.basicVoiceList",
    "vmeg.materialGenUploadUrl",
    "vmeg.materialUploadComplete",
    "vmeg.materialMultipartInitiate",
    "vmeg.materialMultipartPresign",
    "vmeg.materialMultipartComplete",
    "vmeg.materialMultipartAbort",
    "vmeg.materialList",
    "vmeg.materialDelete",
    "vmeg.materialPut",
    "jimmyai.createClone",
    "jimmyai.createAudio",
    "jimmyai.getAudio",
    "jimmyai.uploadFile",
];

/// Operations whose answers carry a task status (where
/// [`FaultKind::UnknownStatus`] means something).
pub const STATUS_OPERATIONS: &[&str] = &["vmeg.tasksDetail", "vmeg.tasksList", "jimmyai.getAudio"];

/// One fault to inject on purpose: a [`FaultKind`] and, for
/// [`FaultKind::TooManyRequests`] and [`FaultKind::Latency`], its duration
/// (`Retry-After`, extra delay; default: the [`crate::FaultConfig`] value);
/// for [`FaultKind::Http500`], whether it comes after processing
/// ([`Fault::http500_after`]; a plain `Http500` comes before, whatever the
/// random faults' configuration says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    kind: FaultKind,
    arg: Option<Duration>,
    after: bool,
}

impl Fault {
    /// `kind` with the configured argument, if it takes one.
    pub const fn new(kind: FaultKind) -> Self {
        Self {
            kind,
            arg: None,
            after: false,
        }
    }
    /// HTTP 500 after the request was processed: the task is made (and billed,
    /// VMEG's idempotency key used), then the answer is a 500 (text `500:after`).
    pub const fn http500_after() -> Self {
        Self {
            kind: FaultKind::Http500,
            arg: None,
            after: true,
        }
    }
    /// Whether the fault comes after the request was processed (`drop-after`,
    /// [`Fault::http500_after`]).
    pub fn after_processing(&self) -> bool {
        self.kind.after_processing(self.after)
    }
    /// HTTP 429 with this `Retry-After` (rounded up to whole seconds; at most
    /// 1 day).
    pub const fn too_many_requests(retry_after: Duration) -> Self {
        Self {
            kind: FaultKind::TooManyRequests,
            arg: Some(retry_after),
            after: false,
        }
    }
    /// This much extra delay before processing (at most 10 minutes).
    pub const fn latency(delay: Duration) -> Self {
        Self {
            kind: FaultKind::Latency,
            arg: Some(delay),
            after: false,
        }
    }
    /// The kind.
    pub const fn kind(&self) -> FaultKind {
        self.kind
    }
    /// The duration argument, when one was given.
    pub const fn arg(&self) -> Option<Duration> {
        self.arg
    }

    /// The per-request plan this fault stands for.
    pub(crate) fn plan(&self, defaults: &crate::FaultConfig) -> FaultPlan {
        let mut p = FaultPlan {
            retry_after: defaults.retry_after,
            ..FaultPlan::default()
        };
        match self.kind {
            FaultKind::Latency => p.latency = Some(self.arg.unwrap_or(defaults.latency)),
            FaultKind::UnknownStatus => p.unknown_status = true,
            FaultKind::ExtraFields => p.extra_fields = true,
            FaultKind::TooManyRequests => {
                p.exclusive = Some(self.kind);
                p.retry_after = self.arg.unwrap_or(defaults.retry_after);
            }
            k => {
                p.exclusive = Some(k);
                p.after_processing = self.after_processing();
            }
        }
        p
    }
}

impl From<FaultKind> for Fault {
    fn from(kind: FaultKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.arg {
            Some(d) => write!(f, "{}:{}ms", self.kind, d.as_millis()),
            None if self.after => write!(f, "{}:after", self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl FromStr for Fault {
    type Err = ScriptError;

    /// `KIND[:ARG]` with the kinds and arguments of the `--fault` grammar
    /// (no rate): `502`, `drop-after`, `500:after`, `429:2s`, `latency:50ms`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        // Reuse the `--fault` parser with a rate of 1.
        let spec = match arg {
            Some(a) => format!("{kind}=1:{a}"),
            None => format!("{kind}=1"),
        };
        let cfg: crate::FaultConfig = spec
            .parse()
            .map_err(|e: crate::FaultSpecError| ScriptError::BadFault(e.to_string()))?;
        let kind = FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == kind.trim().to_ascii_lowercase())
            .ok_or_else(|| ScriptError::BadFault(format!("`{s}`: `all` cannot be scripted")))?;
        Ok(match (kind, arg) {
            (FaultKind::TooManyRequests, Some(_)) => Self::too_many_requests(cfg.retry_after),
            (FaultKind::Latency, Some(_)) => Self::latency(cfg.latency),
            (FaultKind::Http500, Some(_)) if cfg.http500_after => Self::http500_after(),
            (k, _) => Self::new(k),
        })
    }
}

/// A fault that cannot be scripted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// Not one of [`OPERATIONS`].
    #[error("unknown operation `{0}`; expected one of: {ops}", ops = OPERATIONS.join(", "))]
    UnknownOperation(String),
    /// The fault means nothing for this operation.
    #[error("`{kind}` cannot be scripted on `{operation}`: only on {ops}", ops = STATUS_OPERATIONS.join(", "))]
    NotApplicable {
        /// The operation.
        operation: String,
        /// The fault kind.
        kind: FaultKind,
    },
    /// A fault text or argument that cannot be used.
    #[error("bad fault: {0}")]
    BadFault(String),
}

#[derive(Debug, Default)]
pub(crate) struct Scripts {
    queues: HashMap<&'static str, VecDeque<(Fault, u32)>>,
}

impl Scripts {
    /// Queue `n` of `fault` for `op` (after what is already queued).
    pub fn push(&mut self, op: &str, fault: Fault, n: u32) -> Result<(), ScriptError> {
        let op = OPERATIONS
            .iter()
            .copied()
            .find(|o| *o == op)
            .ok_or_else(|| ScriptError::UnknownOperation(op.to_string()))?;
        if fault.kind == FaultKind::UnknownStatus && !STATUS_OPERATIONS.contains(&op) {
            return Err(ScriptError::NotApplicable {
                operation: op.to_string(),
                kind: fault.kind,
            });
        }
        match (fault.kind, fault.arg) {
            (FaultKind::TooManyRequests, Some(d)) if d > bounds::MAX_RETRY_AFTER => {
                return Err(ScriptError::BadFault(
                    "Retry-After must be at most 1 day".into(),
                ));
            }
            (FaultKind::Latency, Some(d)) if d > bounds::MAX_LATENCY => {
                return Err(ScriptError::BadFault(
                    "latency must be at most 10 minutes".into(),
                ));
            }
            _ => {}
        }
        if n > 0 {
            self.queues.entry(op).or_default().push_back((fault, n));
        }
        Ok(())
    }

    /// The fault for the next call of `op`, if one is scripted.
    pub fn take(&mut self, op: &str) -> Option<Fault> {
        let q = self.queues.get_mut(op)?;
        let (fault, left) = q.front_mut()?;
        let f = *fault;
        *left = left.saturating_sub(1);
        if *left == 0 {
            q.pop_front();
        }
        if q.is_empty() {
            self.queues.remove(op);
        }
        Some(f)
    }

    /// Calls still scripted for `op`.
    pub fn pending(&self, op: &str) -> u64 {
        self.queues
            .get(op)
            .map_or(0, |q| q.iter().map(|(_, n)| u64::from(*n)).sum())
    }

    pub fn clear(&mut self) {
        self.queues.clear();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn queues_in_order_per_operation() {
        let mut s = Scripts::default();
        s.push("vmeg.ttsCreate", FaultKind::Http502.into(), 2)
            .unwrap();
        s.push("vmeg.ttsCreate", FaultKind::DropAfter.into(), 1)
            .unwrap();
        s.push("vmeg.ttsCreate", FaultKind::Http500.into(), 0)
            .unwrap();
        assert_eq!(s.pending("vmeg.ttsCreate"), 3);
        assert_eq!(s.take("vmeg.tasksDetail"), None);
        let kinds: Vec<_> = std::iter::from_fn(|| s.take("vmeg.ttsCreate"))
            .map(|f| f.kind())
            .collect();
        assert_eq!(
            kinds,
            [FaultKind::Http502, FaultKind::Http502, FaultKind::DropAfter]
        );
        assert_eq!(s.pending("vmeg.ttsCreate"), 0);
    }

    #[test]
    fn refuses_what_cannot_be_scripted() {
        let mut s = Scripts::default();
        assert!(matches!(
            s.push("vmeg.nope", FaultKind::Http502.into(), 1),
            Err(ScriptError::UnknownOperation(_))
        ));
        assert!(matches!(
            s.push("vmeg.ttsCreate", FaultKind::UnknownStatus.into(), 1),
            Err(ScriptError::NotApplicable { .. })
        ));
        assert!(
            s.push(
                "vmeg.ttsCreate",
                Fault::latency(Duration::from_secs(601)),
                1
            )
            .is_err()
        );
        assert!(
            s.push("vmeg.ttsCreate", Fault::too_many_requests(Duration::MAX), 1)
                .is_err()
        );
        assert_eq!(
            "429:3s".parse::<Fault>().unwrap(),
            Fault::too_many_requests(Duration::from_secs(3))
        );
        assert_eq!(
            "drop-after".parse::<Fault>().unwrap(),
            Fault::new(FaultKind::DropAfter)
        );
        assert!("all".parse::<Fault>().is_err());
        assert!("latency:1e300s".parse::<Fault>().is_err());
        assert!("500:3s".parse::<Fault>().is_err());
    }
}
