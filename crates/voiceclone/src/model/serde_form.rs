//! How result types serialize (feature `serde`): times as RFC 3339 strings in UTC with
//! milliseconds, durations as seconds, statuses and kinds as their words. Chosen for the
//! JSON a service stores or returns, not for serde's default `SystemTime` struct.

use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

use super::{JobKind, TaskStatus};

/// `Some(time)` as `"2024-02-29T12:34:56.789Z"`, `None` as null.
pub(crate) fn opt_time<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&crate::time::format_rfc3339(*t)),
        None => s.serialize_none(),
    }
}

/// [`opt_time`] as a value, for a hand-written `Serialize`.
pub(crate) struct OptTime<'a>(pub(crate) &'a Option<SystemTime>);

impl Serialize for OptTime<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        opt_time(self.0, s)
    }
}

/// `Some(duration)` as seconds (a float), `None` as null.
pub(crate) fn opt_secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

/// `"queued"`, `"running"`, `"succeeded"`, `"failed"`, or `"unknown(<vendor word>)"`, so an
/// unmapped vendor word can never read as a known status.
impl Serialize for TaskStatus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// `"clone"` or `"speech"`.
impl Serialize for JobKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}
