//! Who and which: the provider a client talks to, and typed ids for jobs and voices.
//! (The stored form is documented on [`crate::model`], where callers can see it.)

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Excerpt, JobKind, ParseError};
use crate::error::{Error, ErrorKind};

/// Which vendor a [`crate::Client`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// VMEG Open API (Standalone): base URL `https://api.vmeg.ai`, routes under
    /// `/openapi/v1/`.
    Vmeg,
    /// JimmyAI Open API (SoundClone): base URL `https://www.jimmyai.cn`, routes under
    /// `/api/open-api/v1/`.
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

/// The vendor id text of a job that names no vendor task (see [`JobId::names_no_task`]).
/// `#` is refused by every id check (`validate::id`), so no id a vendor names is taken for it.
const NO_TASK: &str = "#no-task-id";

/// `InvalidInput` (field `field`) for a vendor id (`text`) that looks like a stored id
/// (`what`'s form `form`): of a bare id (`typed` false), or of a typed one (a stored id
/// stored again, `vmeg:clone:vmeg:clone:x`, or one given to `typed`). Sent as a vendor id it
/// would get the vendor's "not found", which a caller may read as "no job" and submit again.
/// Refused before sending, whatever the call, since every id-taking call checks its ids
/// through here.
fn refuse_stored_text(
    field: &str,
    text: &str,
    what: &str,
    form: &str,
    typed: bool,
) -> Result<(), Error> {
    let Some(p) = crate::validate::stored_id_provider(text) else {
        return Ok(());
    };
    let reason = if typed {
        format!(
            "its vendor id {:?} is itself a stored id of {p} (`{form}`): a stored id stored again, or given to `{what}::typed`; it is never sent, since the vendor knows no such id; store the id once and read it with `str::parse::<{what}>()`, or give `{what}::typed` the bare vendor id",
            Excerpt::of(text),
        )
    } else {
        format!(
            "{:?} looks like a stored id of {p} (`{form}`), not a bare vendor id, and is never sent as one; parse it with `str::parse::<{what}>()` or `{what}::from` (the stored form is lowercase, without surrounding spaces), or give the bare vendor id with `{what}::new`",
            Excerpt::of(text),
        )
    };
    Err(Error::invalid_input(field, reason))
}

/// An id's printed form as an error quotes it: its start (see `Excerpt`).
fn shown(id: &impl fmt::Display) -> String {
    let printed = id.to_string();
    Excerpt::of(&printed).to_string()
}

/// How a bare id prints: its text, except that a text which would read back as a stored form
/// (an exact lowercase `vmeg:` / `jimmyai:` start) prints with its provider in capitals.
/// Printed as is, `jimmyai:clone:a` would parse back as a typed id with another vendor id
/// (`a`); in capitals it parses back as refused, as the bare id itself is refused before
/// sending (`refuse_stored_text`).
fn write_bare(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    match split_provider(text) {
        Some((p, rest)) => write!(f, "{}:{rest}", p.as_str().to_ascii_uppercase()),
        None => f.write_str(text),
    }
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
    /// The text is taken as is, never parsed (`From` and [`str::parse`] read the stored
    /// form); a text that looks like a stored id (`vmeg:...`, `JimmyAI:...`, in any case,
    /// after spaces) is refused as `InvalidInput` (field `job_id`) by every call it is given
    /// to, with nothing sent.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            provider: None,
            kind: None,
            id: id.into().into_boxed_str(),
        }
    }

    /// A vendor task id of a known provider and kind. `id` is the vendor's id alone: one
    /// that is itself a stored id (`vmeg:clone:x`) is refused as `InvalidInput` (field
    /// `job_id`) by every call it is given to, with nothing sent.
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

    /// The id of a finished job the vendor gave no task id for: a VMEG synchronous answer
    /// that carried its result (a clone's `voiceId`, speech `results`) without `taskId`,
    /// which VMEG's schema does not mark required there (api-facts A7, A13).
    pub(crate) fn no_task(provider: Provider, kind: JobKind) -> Self {
        Self::typed(provider, kind, NO_TASK)
    }

    /// Whether this id names no vendor task: the job came from a VMEG synchronous answer
    /// that carried its result (the voice, the audio) but no `taskId`. The job already holds
    /// that result; there is no task to ask about, so every call given this id (status,
    /// wait, task lookup, deletion) refuses it as `InvalidInput` (field `job_id`) with
    /// nothing sent, rather than asking VMEG about a task id it never gave. Its stored form
    /// is `vmeg:<clone|speech>:#no-task-id` (`#` is in no id a vendor call accepts, so no
    /// real task is mistaken for it).
    pub fn names_no_task(&self) -> bool {
        &*self.id == NO_TASK
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
                    "{} is a {k} job, not a {kind} job; use {k}_status / wait_for_{k}",
                    shown(self),
                    k = k.as_str()
                ),
            ));
        }
        Ok(())
    }
}

impl JobId {
    /// `InvalidInput` (field `job_id`) unless this id may be used by a `provider` client, as
    /// a job of either kind (a task lookup or deletion): also for a vendor id that looks like
    /// a stored one (see [`JobId::new`], [`JobId::typed`]).
    pub(crate) fn check_provider(&self, provider: Provider) -> Result<(), Error> {
        if self.names_no_task() {
            return Err(Error::invalid_input(
                "job_id",
                format!(
                    "{self} names no task: the job came from a synchronous answer that carried its result but no taskId, and the job already holds that result; there is no task to ask {provider} about"
                ),
            ));
        }
        self.check_bare_text("job_id")?;
        match self.provider {
            Some(p) if p != provider => Err(Error::invalid_input(
                "job_id",
                format!(
                    "{} is a {p} job, but this client talks to {provider}; use a {p} client",
                    shown(self)
                ),
            )),
            _ => Ok(()),
        }
    }
}

impl JobId {
    /// `InvalidInput` (field `field`) for an id whose vendor id looks like a stored id: a
    /// bare id's text, or a typed id's vendor id (a stored id inside a stored id).
    pub(crate) fn check_bare_text(&self, field: &str) -> Result<(), Error> {
        refuse_stored_text(
            field,
            &self.id,
            "JobId",
            "<provider>:<clone|speech>:<vendor id>",
            self.provider.is_some(),
        )
    }
}

/// The error for a task the vendor says is of another kind than the caller stated: the id
/// named the wrong kind of job (your input), never an `Ok` of the wrong shape. Found in the
/// vendor's answer, so `Phase::Answered`: a request went out (a read; nothing billed).
pub(crate) fn wrong_kind(id: &JobId, want: JobKind, vendor_says: &str) -> Error {
    Error::new(ErrorKind::InvalidInput {
        field: "job_id".into(),
        reason: format!(
            "task {} is a {} task, not a {want} task",
            id.as_str(),
            super::shown_word(vendor_says)
        ),
    })
    .with_phase(crate::error::Phase::Answered)
}

impl fmt::Display for JobId {
    /// The stored form of a typed id; a bare id's text (see `write_bare` for the one case it
    /// is changed: a text that would read back as another, typed id).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.provider, self.kind) {
            (Some(p), Some(k)) => write!(f, "{p}:{}:{}", k.as_str(), self.id),
            _ => write_bare(f, &self.id),
        }
    }
}

impl FromStr for JobId {
    type Err = ParseError;

    /// The stored form (`vmeg:clone:<id>`), or a bare vendor id. A text that starts like a
    /// stored id (`vmeg:` / `jimmyai:` in any case, also after spaces) but is not a job's
    /// stored form (`VMEG:clone:x`, ` vmeg:clone:x`, a voice's `vmeg:voice:x`) is refused:
    /// read as a bare id it would be sent to the vendor whole.
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
            None => {
                if let Some(p) = crate::validate::stored_id_provider(s) {
                    return Err(ParseError::new(
                        "job_id",
                        format!(
                            "{:?} starts like a stored id of {p} but is not a job's: expected `<provider>:<clone|speech>:<vendor id>`, in lowercase and without surrounding spaces (a voice's stored form is a VoiceId), or a bare vendor id",
                            Excerpt::of(s)
                        ),
                    ));
                }
                JobId::new(s)
            }
        };
        if id.id.trim().is_empty() {
            return Err(ParseError::new(
                "job_id",
                format!(
                    "{:?} has no vendor id; expected `<provider>:<clone|speech>:<vendor id>` or a bare vendor id",
                    Excerpt::of(s)
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

/// Reads the stored form (`vmeg:clone:<id>`, as [`str::parse`] does), so an id read back from
/// a database and passed as a string is the typed id it was, checked for its provider and
/// kind before sending; any other text is a bare id ([`JobId::new`]). A text that starts like
/// a stored id but does not parse (`VMEG:clone:x`) stays bare and is refused by every call
/// it is given to (`InvalidInput`, field `job_id`), with nothing sent.
///
/// Changed: `From` used to make every text a bare id, so a stored form was sent to the vendor
/// whole; [`JobId::new`] still takes a text as a bare id.
impl From<String> for JobId {
    fn from(value: String) -> Self {
        value.parse().unwrap_or_else(|_| Self::new(value))
    }
}

/// As `From<String>`: the stored form, or else a bare id.
impl From<&str> for JobId {
    fn from(value: &str) -> Self {
        value.parse().unwrap_or_else(|_| Self::new(value))
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
    /// No successful production call seen; usable until this deadline (three days after its
    /// preview task was created: the earliest the window can end). Past it the id is still
    /// sent, with a warning, for a day (JimmyAI may count the three days from the preview's
    /// completion, or in whole days, and the clocks may differ), then refused locally.
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
    /// A bare vendor voice id: sent to whichever provider it is used with. The text is taken
    /// as is, never parsed (`From` and [`str::parse`] read the stored form); a text that
    /// looks like a stored id (`vmeg:...`, `JimmyAI:...`, in any case, after spaces) is
    /// refused as `InvalidInput` (field `voice_id`) by every call it is given to, with
    /// nothing sent.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            provider: None,
            activation: Activation::Unknown,
            id: id.into().into_boxed_str(),
        }
    }

    /// A voice id of a known provider (activation unknown). `id` is the vendor's id alone:
    /// one that is itself a stored id (`vmeg:voice:cv_1`) is refused as `InvalidInput` (field
    /// `voice_id`) by every call it is given to, with nothing sent.
    pub fn typed(provider: Provider, id: impl Into<String>) -> Self {
        Self {
            provider: Some(provider),
            activation: Activation::Unknown,
            id: id.into().into_boxed_str(),
        }
    }

    /// This id with its activation state. A VMEG voice has none (it never expires): its
    /// state stays [`Activation::Unknown`], so its stored form stays `vmeg:voice:<id>` and it
    /// is never refused as expired. A deadline is kept in whole seconds, as the stored form
    /// holds it, so that an id parsed back from its stored form is equal to this one (cut
    /// down, never up: the deadline can only come earlier).
    #[must_use]
    pub fn with_activation(mut self, activation: Activation) -> Self {
        if self.provider != Some(Provider::Vmeg) {
            self.activation = match activation {
                Activation::Unactivated { activate_by } => Activation::Unactivated {
                    activate_by: whole_seconds(activate_by),
                },
                other => other,
            };
        }
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

    /// `InvalidInput` (field `field`) when the id names another provider's voice, has a
    /// vendor id that looks like a stored one (see [`VoiceId::new`], [`VoiceId::typed`]), or,
    /// for a JimmyAI client, is a `modelId` known to be unactivated whose deadline passed
    /// before `now` (VMEG voices never expire).
    pub(crate) fn check(
        &self,
        field: &str,
        provider: Provider,
        now: SystemTime,
    ) -> Result<(), Error> {
        refuse_stored_text(
            field,
            &self.id,
            "VoiceId",
            "<provider>:voice[;<state>]:<vendor id>",
            self.provider.is_some(),
        )?;
        if let Some(p) = self.provider
            && p != provider
        {
            return Err(Error::invalid_input(
                field,
                format!(
                    "{} is a {p} voice, but this client talks to {provider}",
                    shown(self)
                ),
            ));
        }
        if provider == Provider::JimmyAi
            && let Activation::Unactivated { activate_by } = self.activation
            && now > activate_by
        {
            // Within the grace, JimmyAI decides (see `JIMMYAI_EXPIRY_GRACE`).
            let refused_from = activate_by.checked_add(JIMMYAI_EXPIRY_GRACE);
            if refused_from.is_none_or(|r| now <= r) {
                tracing::warn!(
                    voice_id = %Excerpt::of(&self.id),
                    activate_by = %crate::time::format_rfc3339(activate_by),
                    "this modelId was not seen activated and its three days from the preview have passed; sending it: JimmyAI refuses it if it has expired"
                );
                return Ok(());
            }
            return Err(Error::invalid_input(
                field,
                format!(
                    "voice {} was never activated and expired at {} (unix {}): an unactivated modelId is usable for three days after its preview (refused here a day past that, whichever way JimmyAI counts them); clone the voice again (if it was activated elsewhere or its preview's date is wrong, store it as activated)",
                    Excerpt::of(&self.id),
                    crate::time::format_rfc3339(activate_by),
                    unix_secs(activate_by)
                ),
            ));
        }
        Ok(())
    }
}

/// How long past its deadline an unactivated JimmyAI `modelId` is still sent (with a warning)
/// rather than refused locally. The deadline is three days from the preview task's creation,
/// the earliest reading of "valid for 3 days after the preview" (api-facts B5); JimmyAI may
/// count from the preview's completion (minutes later, or more when its queue is long) or in
/// whole days, and the local clock may run ahead of JimmyAI's. Refusing at the deadline
/// would refuse ids JimmyAI still takes, on a guess; a day past it, no reading leaves the id
/// valid. Within the day JimmyAI decides (it refuses an expired `modelId` itself).
pub(crate) const JIMMYAI_EXPIRY_GRACE: Duration = Duration::from_secs(24 * 60 * 60);

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `t` as the stored form holds it: the whole seconds since the Unix epoch.
pub(crate) fn whole_seconds(t: SystemTime) -> SystemTime {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(unix_secs(t)))
        .unwrap_or(t)
}

impl fmt::Display for VoiceId {
    /// The stored form of a typed id; a bare id's text (see `write_bare` for the one case it
    /// is changed: a text that would read back as another, typed id).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(p) = self.provider else {
            return write_bare(f, &self.id);
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

    /// The stored form (`jimmyai:voice;activated:<id>`), or a bare vendor id. A text that
    /// starts like a stored id (`vmeg:` / `jimmyai:` in any case, also after spaces) but is
    /// not a voice's stored form (`VMEG:voice:x`, ` vmeg:voice:x`, a job's `vmeg:clone:x`)
    /// is refused: read as a bare id it would be sent to the vendor whole.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| {
            ParseError::new(
                "voice_id",
                format!(
                    "{:?}: {why}; expected `<provider>:voice[;activated|;activate_by=<unix seconds>]:<vendor id>` or a bare vendor id",
                    Excerpt::of(s)
                ),
            )
        };
        let typed = split_provider(s).and_then(|(p, rest)| {
            rest.strip_prefix("voice")
                .filter(|r| r.starts_with(':') || r.starts_with(';'))
                .map(|r| (p, r))
        });
        let id = match typed {
            None if crate::validate::stored_id_provider(s).is_some() => {
                return Err(bad(
                    "starts like a stored id but is not a voice's (in lowercase, without surrounding spaces; a job's stored form is a JobId)",
                ));
            }
            None => VoiceId::new(s),
            Some((p, rest)) => {
                let (state, id) = match rest.strip_prefix(':') {
                    Some(id) => ("", id),
                    None => rest
                        .get(1..)
                        .and_then(|r| r.split_once(':'))
                        .ok_or_else(|| bad("no vendor id after the state"))?,
                };
                // A VMEG voice never expires and has no activation: a state on one (which
                // earlier versions wrote, `VoiceId::activated` on any voice) is read and
                // dropped by `with_activation`, so a stored voice still loads and is never
                // refused as "never activated"; a malformed state is still refused below.
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

/// Reads the stored form (`vmeg:voice:cv_1`, `jimmyai:voice;activated:m-1`, as
/// [`str::parse`] does), so a voice id read back from a database and passed as a string
/// (`SpeechRequest::new(row.voice_id, ...)`) is the typed id it was, checked for its provider
/// and activation before sending; any other text is a bare id ([`VoiceId::new`]). A text that
/// starts like a stored id but does not parse (`VMEG:voice:x`) stays bare and is refused by
/// every call it is given to (`InvalidInput`, field `voice_id`), with nothing sent.
///
/// Changed: `From` used to make every text a bare id, so a stored form was sent to the vendor
/// whole; [`VoiceId::new`] still takes a text as a bare id.
impl From<String> for VoiceId {
    fn from(value: String) -> Self {
        value.parse().unwrap_or_else(|_| Self::new(value))
    }
}

/// As `From<String>`: the stored form, or else a bare id.
impl From<&str> for VoiceId {
    fn from(value: &str) -> Self {
        value.parse().unwrap_or_else(|_| Self::new(value))
    }
}

/// As `From<String>`: the stored form, or else a bare id.
impl From<&String> for VoiceId {
    fn from(value: &String) -> Self {
        Self::from(value.as_str())
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

    /// A caller's value is quoted by its start only (`Excerpt`): a 1 MiB value made a 1 MiB
    /// error (and log line) from every parser and id check. Before: quoted whole.
    #[test]
    fn a_huge_value_is_not_quoted_whole_by_any_parser_or_id_check() {
        use crate::model::{Emotion, JobKind, OutputFormat, SoundVersion, VmegEngine};
        // The longest refusal's own words (a bare id that looks stored, with its advice) are
        // some 350 bytes; the value adds at most 80 characters.
        const MAX: usize = 600;
        let spaces = " ".repeat(1 << 20);
        let xs = "x".repeat(1 << 20);
        let short = |what: &str, text: String| {
            assert!(text.len() < MAX, "{what}: {} bytes: {text}", text.len());
        };
        let parsed = [
            format!("vmeg:clone:{spaces}").parse::<JobId>().unwrap_err(),
            format!("VMEG:clone:{xs}").parse::<JobId>().unwrap_err(),
            format!("vmeg:voice:{spaces}")
                .parse::<VoiceId>()
                .unwrap_err(),
            format!("vmeg:voice;{xs}").parse::<VoiceId>().unwrap_err(),
            format!("VMEG:voice:{xs}").parse::<VoiceId>().unwrap_err(),
            xs.parse::<Provider>().unwrap_err(),
            xs.parse::<VmegEngine>().unwrap_err(),
            xs.parse::<SoundVersion>().unwrap_err(),
            xs.parse::<OutputFormat>().unwrap_err(),
            xs.parse::<Emotion>().unwrap_err(),
        ];
        for e in parsed {
            short(e.field(), e.to_string());
        }
        let now = SystemTime::now();
        let expired = VoiceId::typed(Provider::JimmyAi, xs.as_str()).with_activation(
            Activation::Unactivated {
                activate_by: UNIX_EPOCH,
            },
        );
        let checked = [
            JobId::typed(Provider::Vmeg, JobKind::Speech, xs.as_str())
                .check(Provider::Vmeg, JobKind::Clone),
            JobId::typed(Provider::JimmyAi, JobKind::Clone, xs.as_str())
                .check_provider(Provider::Vmeg),
            JobId::new(format!("VMEG:clone:{xs}")).check_provider(Provider::Vmeg),
            VoiceId::typed(Provider::JimmyAi, xs.as_str()).check("voice_id", Provider::Vmeg, now),
            VoiceId::new(format!("vmeg:voice:{xs}")).check("voice_id", Provider::Vmeg, now),
            expired.check("voice_id", Provider::JimmyAi, now),
        ];
        for r in checked {
            let e = r.unwrap_err();
            short("check", e.to_string());
            short("check", format!("{e:?}"));
        }
    }

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
        // Bare vendor ids (no provider prefix) stay bare, also with `:` inside.
        for bare in ["t-1", "x:y:z", "audio:1", "vmegx:clone:x"] {
            let id: JobId = bare.parse().unwrap();
            assert_eq!(id, JobId::new(bare), "{bare}");
            assert!(!id.is_typed());
            assert_eq!(id.to_string(), bare);
        }
        let e = "vmeg:clone:".parse::<JobId>().unwrap_err();
        assert_eq!(e.field(), "job_id");
        assert!(serde_json::from_str::<JobId>("\"\"").is_err());
    }

    /// A text that starts like a stored id but is not a job's stored form (another case,
    /// spaces around it, a voice's form, an unknown kind) is refused, never read as a bare
    /// id the vendor would get whole.
    #[test]
    fn job_id_texts_that_only_look_stored_are_refused() {
        for text in [
            "VMEG:clone:x",
            "Vmeg:clone:x",
            " vmeg:clone:x",
            "\tjimmyai:speech:a",
            "JIMMYAI:speech:a",
            "vmeg:voice:x",
            "vmeg:tts:x",
            "vmeg:CLONE:x",
            "jimmyai:",
        ] {
            let e = text.parse::<JobId>().unwrap_err();
            assert_eq!(e.field(), "job_id", "{text:?}");
            assert!(e.reason().contains("stored id"), "{text:?}: {e}");
            let json = serde_json::to_string(text).unwrap();
            assert!(serde_json::from_str::<JobId>(&json).is_err(), "{text:?}");
        }
        // A voice's stored form as a voice, a job's as a job: each refuses the other's.
        assert!("vmeg:clone:x".parse::<VoiceId>().is_err());
        assert!("VMEG:voice:x".parse::<VoiceId>().is_err());
        assert!(" jimmyai:voice:m".parse::<VoiceId>().is_err());
    }

    /// `From` reads the stored form (an id read back from a database and passed as a
    /// string), and takes any other text as a bare id; `new` never parses.
    #[test]
    fn from_reads_the_stored_form_and_new_never_parses() {
        for text in ["jimmyai:clone:a", "vmeg:speech:t-1"] {
            let parsed: JobId = text.parse().unwrap();
            assert_eq!(JobId::from(text), parsed);
            assert_eq!(JobId::from(text.to_owned()), parsed);
            assert!(JobId::from(text).is_typed());
            assert!(!JobId::new(text).is_typed());
        }
        assert_eq!(JobId::from("jimmyai:clone:a").as_str(), "a");
        assert_eq!(JobId::from("t-1"), JobId::new("t-1"));
        // What does not parse stays bare, and is refused where it is used.
        for text in ["VMEG:clone:x", "vmeg:clone:", " vmeg:clone:x"] {
            let id = JobId::from(text);
            assert_eq!(id, JobId::new(text), "{text:?}");
            let e = id.check(Provider::Vmeg, JobKind::Clone).unwrap_err();
            assert!(
                matches!(e.kind(), ErrorKind::InvalidInput { field, reason }
                if field == "job_id" && reason.contains("looks like a stored id of vmeg")),
                "{text:?}: {e}"
            );
        }
        for (text, provider) in [
            ("vmeg:voice:cv_1", Provider::Vmeg),
            ("jimmyai:voice;activated:m-1", Provider::JimmyAi),
        ] {
            let parsed: VoiceId = text.parse().unwrap();
            assert_eq!(VoiceId::from(text), parsed);
            assert_eq!(VoiceId::from(text.to_owned()), parsed);
            assert_eq!(VoiceId::from(&text.to_owned()), parsed);
            assert_eq!(parsed.provider(), Some(provider));
        }
        assert_eq!(VoiceId::from("cv_1"), VoiceId::new("cv_1"));
        assert_eq!(VoiceId::from("VMEG:voice:x"), VoiceId::new("VMEG:voice:x"));
    }

    /// A bare id whose text looks like a stored id (however it was made: `new`, a `From`
    /// that could not parse) is refused by every check, naming the field; a typed id whose
    /// vendor id happens to look so is the vendor's and is sent.
    #[test]
    fn bare_ids_that_look_stored_are_refused_before_sending() {
        let now = SystemTime::now();
        for text in [
            "vmeg:clone:x",
            "jimmyai:clone:a",
            "VMEG:clone:x",
            " vmeg:clone:x",
            "\u{200b}jimmyai:speech:a",
            "vmeg:voice:cv_1",
            "JimmyAI:voice;activated:m-1",
        ] {
            let job = JobId::new(text);
            for provider in Provider::ALL {
                for r in [
                    job.check(provider, JobKind::Clone),
                    job.check(provider, JobKind::Speech),
                    job.check_provider(provider),
                ] {
                    let e = r.unwrap_err();
                    assert!(
                        matches!(e.kind(), ErrorKind::InvalidInput { field, reason }
                        if field == "job_id" && reason.contains("looks like a stored id")
                            && reason.contains("parse it with")),
                        "{text:?}: {e}"
                    );
                }
                let e = VoiceId::new(text)
                    .check("lines[1].voice_id", provider, now)
                    .unwrap_err();
                assert!(
                    matches!(e.kind(), ErrorKind::InvalidInput { field, reason }
                    if field == "lines[1].voice_id" && reason.contains("looks like a stored id")),
                    "{text:?}: {e}"
                );
            }
        }
        // A typed id whose vendor id is itself a stored id (a stored id stored again) is
        // refused too: its vendor id would get the vendor's "not found" as well.
        let typed = JobId::typed(Provider::JimmyAi, JobKind::Clone, "vmeg:clone:x");
        let e = typed.check(Provider::JimmyAi, JobKind::Clone).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { field, reason }
                if field == "job_id" && reason.contains("is itself a stored id of vmeg")),
            "{e}"
        );
        let typed = VoiceId::typed(Provider::JimmyAi, "vmeg:voice:x");
        let e = typed.check("voice_id", Provider::JimmyAi, now).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::InvalidInput { field, reason }
                if field == "voice_id" && reason.contains("is itself a stored id of vmeg")),
            "{e}"
        );
        // A vendor id that merely holds a `:` is no stored id.
        let typed = JobId::typed(Provider::Vmeg, JobKind::Clone, "a:vmeg:clone:x");
        assert!(typed.check(Provider::Vmeg, JobKind::Clone).is_ok());
    }

    /// Printing and parsing back never turns an id into another one that would be sent: a
    /// bare id whose text is a stored form prints with its provider in capitals, which
    /// reads back as refused (as the bare id itself is).
    #[test]
    fn a_bare_id_never_prints_as_another_typed_id() {
        for text in ["jimmyai:clone:a", "vmeg:speech:t", "vmeg:voice:cv_1"] {
            let bare = JobId::new(text);
            let shown = bare.to_string();
            assert!(
                shown.to_ascii_lowercase() == text && shown != text,
                "{shown}"
            );
            assert!(shown.parse::<JobId>().is_err(), "{shown}");
            let json = serde_json::to_string(&bare).unwrap();
            assert!(serde_json::from_str::<JobId>(&json).is_err(), "{json}");
            let bare = VoiceId::new(text);
            let shown = bare.to_string();
            assert!(
                shown.to_ascii_lowercase() == text && shown != text,
                "{shown}"
            );
            assert!(shown.parse::<VoiceId>().is_err(), "{shown}");
        }
        // Other bare ids print as they are, and read back as themselves.
        for text in ["t-1", "VMEG:clone:x", "a:b"] {
            assert_eq!(JobId::new(text).to_string(), text);
            assert_eq!(VoiceId::new(text).to_string(), text);
        }
        assert_eq!("a:b".parse::<JobId>().unwrap(), JobId::new("a:b"));
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
            // A deadline with a fraction of a second is kept in whole seconds (review 28-c
            // #4: it parsed back unequal).
            (
                VoiceId::typed(Provider::JimmyAi, "m-1").with_activation(Activation::Unactivated {
                    activate_by: at + Duration::from_millis(999),
                }),
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

    /// A VMEG voice has no activation: a stored form with a state is refused, and no state
    /// can be given to a VMEG id, so none is ever refused as "never activated".
    #[test]
    fn vmeg_voice_ids_carry_no_activation_state() {
        // Earlier versions could store a VMEG voice with a state: it still loads, without it.
        for old in [
            "vmeg:voice;activate_by=1781777280:cv_1",
            "vmeg:voice;activated:cv_1",
        ] {
            let v = old.parse::<VoiceId>().unwrap();
            assert_eq!(v, VoiceId::typed(Provider::Vmeg, "cv_1"), "{old}");
            assert_eq!(v.activation(), Activation::Unknown, "{old}");
            assert_eq!(v.to_string(), "vmeg:voice:cv_1", "{old}");
            let json = serde_json::to_string(old).unwrap();
            assert_eq!(serde_json::from_str::<VoiceId>(&json).unwrap(), v, "{old}");
        }
        let e = "vmeg:voice;soon:cv_1".parse::<VoiceId>().unwrap_err();
        assert_eq!(e.field(), "voice_id");
        let now = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let past = Activation::Unactivated {
            activate_by: now - JIMMYAI_EXPIRY_GRACE - Duration::from_secs(1),
        };
        let v = VoiceId::typed(Provider::Vmeg, "cv_1").with_activation(past);
        assert_eq!(v.activation(), Activation::Unknown);
        assert_eq!(v.to_string(), "vmeg:voice:cv_1");
        assert_eq!(v.to_string().parse::<VoiceId>().unwrap(), v);
        assert!(v.check("voice_id", Provider::Vmeg, now).is_ok());
        assert_eq!(
            VoiceId::typed(Provider::Vmeg, "cv_1")
                .activated()
                .activation(),
            Activation::Unknown
        );
        // A bare id's state is checked only by a JimmyAI client (VMEG voices never expire).
        let bare = VoiceId::new("m-1").with_activation(past);
        assert!(bare.check("voice_id", Provider::Vmeg, now).is_ok());
        assert!(bare.check("voice_id", Provider::JimmyAi, now).is_err());
    }

    #[test]
    fn voice_ids_refuse_the_other_provider_and_an_expired_unactivated_model() {
        let now = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let v = VoiceId::typed(Provider::Vmeg, "cv_1");
        let e = v.check("voice_id", Provider::JimmyAi, now).unwrap_err();
        assert!(matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "voice_id"));
        let deadline = now - JIMMYAI_EXPIRY_GRACE - Duration::from_secs(1);
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

    /// The deadline is counted from the preview task's creation, the earliest reading of
    /// "three days after the preview": past it, within a day, the id is sent (with a
    /// warning), never refused on that guess; a day past it, it is refused.
    #[test]
    fn an_unactivated_model_just_past_its_deadline_is_sent_not_refused() {
        let now = UNIX_EPOCH + Duration::from_secs(2_000_000_000);
        let at = |deadline| {
            VoiceId::typed(Provider::JimmyAi, "m-1")
                .with_activation(Activation::Unactivated {
                    activate_by: deadline,
                })
                .check("voice_id", Provider::JimmyAi, now)
        };
        for past in [1, 60, 3_600, 24 * 3_600] {
            assert!(at(now - Duration::from_secs(past)).is_ok(), "{past} s past");
        }
        assert!(at(now - Duration::from_secs(24 * 3_600 + 1)).is_err());
    }
}
