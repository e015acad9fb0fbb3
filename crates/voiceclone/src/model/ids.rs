//! Who and which: the provider a client talks to, and typed ids for jobs and voices.
//! (The stored form is documented on [`crate::model`], where callers can see it.)

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{JobKind, ParseError};
use crate::error::{Error, ErrorKind};

/// Which vendor a [`crate::Client`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// VMEG Open API (Standalone), `https://api.vmeg.ai/openapi/v1/`.
    Vmeg,
    /// JimmyAI Open API (SoundClone), `https://www.jimmyai.cn/api/open-api/v1/`.
    JimmyAi,
}

/// The provider a stored form starts with (`vmeg:` / `jimmyai:`, exact lowercase), and the rest.
fn split_provider(s: &str) -> Option<(Provider, &str)> {
    Provider::ALL.into_iter().find_map(|p| {
        s.strip_prefix(p.as_str())
            .and_then(|rest| rest.strip_prefix(':'))
            .map(|rest| (p, rest))
    })
}

/// A vendor task id that knows, when it came from the client or a stored form, its provider
/// and kind (see [the stored form](crate::model#the-stored-form)).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId {
    provider: Option<Provider>,
    kind: Option<JobKind>,
    /// Boxed, not a `String`: ids are never grown, and every waiting job holds some.
    id: Box<str>,
}

impl JobId {
    /// A bare vendor task id (VMEG `taskId`, JimmyAI task `id` such as `audio_<uuid>`): the
    /// call it is given to states its kind, and the vendor's answer is checked against it.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            provider: None,
            kind: None,
            id: id.into().into_boxed_str(),
        }
    }

    /// A vendor task id of a known provider and kind.
    pub fn typed(provider: Provider, kind: JobKind, id: impl Into<String>) -> Self {
        Self {
            provider: Some(provider),
            kind: Some(kind),
            id: id.into().into_boxed_str(),
        }
    }

    /// This id with its provider and kind stated.
    #[must_use]
    pub fn with_kind(mut self, provider: Provider, kind: JobKind) -> Self {
        self.provider = Some(provider);
        self.kind = Some(kind);
        self
    }

    /// The id as sent to and received from the vendor.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// Who runs the task; `None` for a bare id.
    pub fn provider(&self) -> Option<Provider> {
        self.provider
    }

    /// Clone or speech; `None` for a bare id.
    pub fn kind(&self) -> Option<JobKind> {
        self.kind
    }

    /// Whether the id knows its provider and kind (it has a stored form).
    pub fn is_typed(&self) -> bool {
        self.provider.is_some() && self.kind.is_some()
    }

    /// `InvalidInput` (field `job_id`) unless this id may be used by a `provider` client as a
    /// `kind` job: nothing is sent for an id of the other provider or kind.
    pub(crate) fn check(&self, provider: Provider, kind: JobKind) -> Result<(), Error> {
        self.check_provider(provider)?;
        if let Some(k) = self.kind
            && k != kind
        {
            return Err(Error::invalid_input(
                "job_id",
                format!(
                    "{self} is a {k} job, not a {kind} job; use {k}_status / wait_for_{k}",
                    k = k.as_str()
                ),
            ));
        }
        Ok(())
    }
}

impl JobId {
    /// `InvalidInput` (field `job_id`) unless this id may be used by a `provider` client, as
    /// a job of either kind (a task lookup or deletion).
    pub(crate) fn check_provider(&self, provider: Provider) -> Result<(), Error> {
        match self.provider {
            Some(p) if p != provider => Err(Error::invalid_input(
                "job_id",
                format!(
                    "{self} is a {p} job, but this client talks to {provider}; use a {p} client"
                ),
            )),
            _ => Ok(()),
        }
    }
}

/// The error for a task the vendor says is of another kind than the caller stated: the id
/// named the wrong kind of job (your input), never an `Ok` of the wrong shape.
pub(crate) fn wrong_kind(id: &JobId, want: JobKind, vendor_says: &str) -> Error {
    Error::new(ErrorKind::InvalidInput {
        field: "job_id".into(),
        reason: format!(
            "task {} is a {vendor_says} task, not a {want} task",
            id.as_str()
        ),
    })
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.provider, self.kind) {
            (Some(p), Some(k)) => write!(f, "{p}:{}:{}", k.as_str(), self.id),
            _ => f.write_str(&self.id),
        }
    }
}

impl FromStr for JobId {
    type Err = ParseError;

    /// The stored form (`vmeg:clone:<id>`), or a bare vendor id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let typed = split_provider(s).and_then(|(p, rest)| {
            [JobKind::Clone, JobKind::Speech].into_iter().find_map(|k| {
                rest.strip_prefix(k.as_str())
                    .and_then(|r| r.strip_prefix(':'))
                    .map(|id| (p, k, id))
            })
        });
        let id = match typed {
            Some((p, k, id)) => JobId::typed(p, k, id),
            None => JobId::new(s),
        };
        if id.id.trim().is_empty() {
            return Err(ParseError::new(
                "job_id",
                format!(
                    "{s:?} has no vendor id; expected `<provider>:<clone|speech>:<vendor id>` or a bare vendor id"
                ),
            ));
        }
        Ok(id)
    }
}

impl Serialize for JobId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for JobId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl From<String> for JobId {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for JobId {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl AsRef<str> for JobId {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

/// Whether a JimmyAI `modelId` is activated (a production call made it permanent).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[non_exhaustive]
pub enum Activation {
    /// Not known (VMEG voices, bare ids, ids stored without a state): the voice is sent.
    #[default]
    Unknown,
    /// A successful production call was seen: usable with no time limit.
    Activated,
    /// No production call seen; usable until this deadline (three days after its preview),
    /// refused locally after it.
    Unactivated {
        /// The deadline.
        activate_by: SystemTime,
    },
}

/// A voice id (VMEG `voiceId`, JimmyAI `modelId`) that knows its provider and, for JimmyAI,
/// whether it is activated (see [the stored form](crate::model#the-stored-form)).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VoiceId {
    provider: Option<Provider>,
    activation: Activation,
    /// Boxed, not a `String`: ids are never grown.
    id: Box<str>,
}

impl VoiceId {
    /// A bare vendor voice id: sent to whichever provider it is used with.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            provider: None,
            activation: Activation::Unknown,
            id: id.into().into_boxed_str(),
        }
    }

    /// A voice id of a known provider (activation unknown).
    pub fn typed(provider: Provider, id: impl Into<String>) -> Self {
        Self {
            provider: Some(provider),
            activation: Activation::Unknown,
            id: id.into().into_boxed_str(),
        }
    }

    /// This id with its activation state.
    #[must_use]
    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// This id marked activated (a production call with it succeeded).
    #[must_use]
    pub fn activated(self) -> Self {
        self.with_activation(Activation::Activated)
    }

    /// The id as sent to and received from the vendor.
    pub fn as_str(&self) -> &str {
        &self.id
    }

    /// Who holds the voice; `None` for a bare id.
    pub fn provider(&self) -> Option<Provider> {
        self.provider
    }

    /// Its activation state (JimmyAI).
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// `InvalidInput` (field `field`) when the id names another provider's voice, or a
    /// `modelId` known to be unactivated whose deadline passed before `now`.
    pub(crate) fn check(
        &self,
        field: &str,
        provider: Provider,
        now: SystemTime,
    ) -> Result<(), Error> {
        if let Some(p) = self.provider
            && p != provider
        {
            return Err(Error::invalid_input(
                field,
                format!("{self} is a {p} voice, but this client talks to {provider}"),
            ));
        }
        if let Activation::Unactivated { activate_by } = self.activation
            && now > activate_by
        {
            return Err(Error::invalid_input(
                field,
                format!(
                    "voice {} was never activated and expired at {} (unix {}): an unactivated modelId is usable for three days after its preview; clone the voice again (if it was activated elsewhere, store it as activated)",
                    self.id,
                    crate::time::format_rfc3339(activate_by),
                    unix_secs(activate_by)
                ),
            ));
        }
        Ok(())
    }
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl fmt::Display for VoiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(p) = self.provider else {
            return f.write_str(&self.id);
        };
        match self.activation {
            Activation::Unknown => write!(f, "{p}:voice:{}", self.id),
            Activation::Activated => write!(f, "{p}:voice;activated:{}", self.id),
            Activation::Unactivated { activate_by } => write!(
                f,
                "{p}:voice;activate_by={}:{}",
                unix_secs(activate_by),
                self.id
            ),
        }
    }
}

impl FromStr for VoiceId {
    type Err = ParseError;

    /// The stored form (`jimmyai:voice;activated:<id>`), or a bare vendor id.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            ParseError::new(
                "voice_id",
                format!(
                    "{s:?}: {why}; expected `<provider>:voice[;activated|;activate_by=<unix seconds>]:<vendor id>` or a bare vendor id"
                ),
            )
        };
        let typed = split_provider(s).and_then(|(p, rest)| {
            rest.strip_prefix("voice")
                .filter(|r| r.starts_with(':') || r.starts_with(';'))
                .map(|r| (p, r))
        });
        let id = match typed {
            None => VoiceId::new(s),
            Some((p, rest)) => {
                let (state, id) = match rest.strip_prefix(':') {
                    Some(id) => ("", id),
                    None => rest
                        .get(1..)
                        .and_then(|r| r.split_once(':'))
                        .ok_or_else(|| bad("no vendor id after the state"))?,
                };
                let activation = match state {
                    "" => Activation::Unknown,
                    "activated" => Activation::Activated,
                    other => {
                        let secs = other
                            .strip_prefix("activate_by=")
                            .and_then(|n| n.parse::<u64>().ok())
                            .ok_or_else(|| bad("unknown voice state"))?;
                        // A stored id is read back from a caller's file or database: a time
                        // the platform cannot hold is refused, never a panic.
                        let activate_by = UNIX_EPOCH
                            .checked_add(Duration::from_secs(secs))
                            .ok_or_else(|| bad("activate_by is out of range"))?;
                        Activation::Unactivated { activate_by }
                    }
                };
                VoiceId::typed(p, id).with_activation(activation)
            }
        };
        if id.id.trim().is_empty() {
            return Err(bad("no vendor id"));
        }
        Ok(id)
    }
}

impl Serialize for VoiceId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for VoiceId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl From<String> for VoiceId {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for VoiceId {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<&String> for VoiceId {
    fn from(value: &String) -> Self {
        Self::new(value.as_str())
    }
}

impl From<&VoiceId> for VoiceId {
    fn from(value: &VoiceId) -> Self {
        value.clone()
    }
}

impl From<&super::Voice> for VoiceId {
    fn from(value: &super::Voice) -> Self {
        value.id.clone()
    }
}

impl From<super::Voice> for VoiceId {
    fn from(value: super::Voice) -> Self {
        value.id
    }
}

impl AsRef<str> for VoiceId {
    fn as_ref(&self) -> &str {
        &self.id
    }
}

impl PartialEq<str> for VoiceId {
    fn eq(&self, other: &str) -> bool {
        *self.id == *other
    }
}

impl PartialEq<&str> for VoiceId {
    fn eq(&self, other: &&str) -> bool {
        *self.id == **other
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::{Error, ErrorKind};

    #[test]
    fn provider_parses_and_prints() {
        assert_eq!("VMEG".parse::<Provider>().unwrap(), Provider::Vmeg);
        assert_eq!(" JimmyAI ".parse::<Provider>().unwrap(), Provider::JimmyAi);
        let e = "jimmy".parse::<Provider>().unwrap_err();
        assert_eq!(e.field(), "provider");
        assert!(e.reason().contains("\"vmeg\" or \"jimmyai\""), "{e}");
        let e = Error::from(e);
        assert!(matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "provider"));
        assert_eq!(Provider::Vmeg.api_key_var(), "VMEG_API_KEY");
        assert_eq!(Provider::JimmyAi.base_url_var(), "JIMMYAI_BASE_URL");
        assert_eq!(Provider::JimmyAi.to_string(), "jimmyai");
        assert_eq!(
            serde_json::to_string(&Provider::JimmyAi).unwrap(),
            "\"jimmyai\""
        );
        assert_eq!(
            serde_json::from_str::<Provider>("\"vmeg\"").unwrap(),
            Provider::Vmeg
        );
    }

    #[test]
    fn job_ids_round_trip_their_stored_form() {
        for (p, k, vendor) in [
            (Provider::Vmeg, JobKind::Clone, "t-1"),
            (Provider::JimmyAi, JobKind::Speech, "audio_1"),
            // The separator inside a vendor id: everything after the second `:` is the id.
            (Provider::Vmeg, JobKind::Speech, "a:b::c"),
            (Provider::JimmyAi, JobKind::Clone, "vmeg:clone:x"),
        ] {
            let id = JobId::typed(p, k, vendor);
            let stored = id.to_string();
            assert_eq!(stored, format!("{p}:{k}:{vendor}"));
            let back: JobId = stored.parse().unwrap();
            assert_eq!(back, id);
            assert_eq!(
                (back.provider(), back.kind(), back.as_str()),
                (Some(p), Some(k), vendor)
            );
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(json, format!("\"{stored}\""));
            assert_eq!(serde_json::from_str::<JobId>(&json).unwrap(), id);
        }
        // Bare vendor ids (no `<provider>:<kind>:` prefix) stay bare, also with `:` inside.
        for bare in ["t-1", "x:y:z", "vmeg:voice:x", "VMEG:clone:x", "vmeg:tts:x"] {
            let id: JobId = bare.parse().unwrap();
            assert_eq!(id, JobId::new(bare), "{bare}");
            assert!(!id.is_typed());
            assert_eq!(id.to_string(), bare);
        }
        let e = "vmeg:clone:".parse::<JobId>().unwrap_err();
        assert_eq!(e.field(), "job_id");
        assert!(serde_json::from_str::<JobId>("\"\"").is_err());
    }

    #[test]
    fn job_ids_of_the_other_provider_or_kind_are_refused() {
        let id = JobId::typed(Provider::JimmyAi, JobKind::Clone, "audio_1");
        assert!(id.check(Provider::JimmyAi, JobKind::Clone).is_ok());
        let e = id.check(Provider::JimmyAi, JobKind::Speech).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { field, reason }
            if field == "job_id" && reason.contains("is a clone job, not a speech job")),
            "{e}"
        );
        let e = id.check(Provider::Vmeg, JobKind::Clone).unwrap_err();
        assert!(e.to_string().contains("jimmyai job"), "{e}");
        assert!(
            JobId::new("x")
                .check(Provider::Vmeg, JobKind::Speech)
                .is_ok()
        );
    }

    #[test]
    fn voice_ids_round_trip_with_their_activation_state() {
        let at = UNIX_EPOCH + Duration::from_secs(1_781_777_280);
        for (id, stored) in [
            (VoiceId::typed(Provider::Vmeg, "cv_1"), "vmeg:voice:cv_1"),
            (
                VoiceId::typed(Provider::JimmyAi, "m:1").activated(),
                "jimmyai:voice;activated:m:1",
            ),
            (
                VoiceId::typed(Provider::JimmyAi, "m-1")
                    .with_activation(Activation::Unactivated { activate_by: at }),
                "jimmyai:voice;activate_by=1781777280:m-1",
            ),
        ] {
            assert_eq!(id.to_string(), stored);
            assert_eq!(stored.parse::<VoiceId>().unwrap(), id);
            let json = serde_json::to_string(&id).unwrap();
            assert_eq!(serde_json::from_str::<VoiceId>(&json).unwrap(), id);
        }
        assert_eq!("cv_1".parse::<VoiceId>().unwrap(), VoiceId::new("cv_1"));
        assert_eq!("a:b".parse::<VoiceId>().unwrap(), VoiceId::new("a:b"));
        for bad in [
            "jimmyai:voice;soon:m",
            "jimmyai:voice;activated",
            "vmeg:voice:",
            "jimmyai:voice;activate_by=x:m",
            "jimmyai:voice;activate_by=18446744073709551615:m",
            "jimmyai:voice;activate_by=9223372036854775808:m",
        ] {
            assert_eq!(
                bad.parse::<VoiceId>().unwrap_err().field(),
                "voice_id",
                "{bad}"
            );
        }
    }

    #[test]
    fn voice_ids_refuse_the_other_provider_and_an_expired_unactivated_model() {
        let now = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let v = VoiceId::typed(Provider::Vmeg, "cv_1");
        let e = v.check("voice_id", Provider::JimmyAi, now).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "voice_id"));
        let deadline = now - Duration::from_secs(1);
        let old =
            VoiceId::typed(Provider::JimmyAi, "m-1").with_activation(Activation::Unactivated {
                activate_by: deadline,
            });
        let e = old.check("voice_id", Provider::JimmyAi, now).unwrap_err();
        assert!(
            e.to_string()
                .contains(&crate::time::format_rfc3339(deadline)),
            "{e}"
        );
        assert!(
            old.clone()
                .activated()
                .check("voice_id", Provider::JimmyAi, now)
                .is_ok()
        );
        assert!(old.check("voice_id", Provider::JimmyAi, deadline).is_ok());
        assert!(
            VoiceId::new("m-1")
                .check("voice_id", Provider::JimmyAi, now)
                .is_ok()
        );
    }
}
