//! JimmyAI Open API (SoundClone): status table, the task shape, and the calls into the
//! generated `jimmyai-client` (plus, with the `upload` feature, the multipart upload, the one
//! call progenitor cannot generate, and the clone from a local recording that uses it).

use std::time::Duration;

mod billing;
mod calls;
mod plan;
mod results;
// The fake reads a scripted status word through JimmyAI's table, as the client reads one.
#[cfg(feature = "fake")]
pub(crate) use results::map_status;
pub(crate) mod rules;
#[cfg(feature = "upload")]
mod upload;

/// The fields summarized, not quoted (the fake; a resubmit's body check).
pub(crate) use calls::FREE_TEXT;
#[cfg(feature = "fake")]
pub(crate) use calls::unknown_id_or_invalid;
use calls::{clone_status, clone_voice, speech_status, synthesize};
pub(crate) use plan::UPLOADED_URL;
/// A local recording checked as JimmyAI's clone from it checks it (the fake, dry runs).
#[cfg(feature = "upload")]
pub(crate) use upload::measured as measured_recording;
#[cfg(feature = "upload")]
use upload::{clone_from_local, upload};

use super::{AnyBackend, Backend, BoxFuture, Connect, Facts, Offline, WaitDefaults};
use crate::error::{Error, ErrorKind};
#[cfg(feature = "upload")]
use crate::model::AudioSource;
use crate::model::{CloneJob, CloneRequest, JobId, Provider, SpeechJob, SpeechRequest, Voice};
#[cfg(feature = "upload")]
use crate::transfer::Uploads;
use crate::transport::Transport;
use crate::transport::{Dialect, EnvelopeKeys};

/// JimmyAI's billing rules and request plans (`crate::estimate`).
pub(crate) const OFFLINE: Offline = Offline {
    estimate_clone: billing::estimate_clone,
    estimate_speech: billing::estimate_speech,
    plan_clone: plan::plan_clone,
    plan_speech: plan::plan_speech,
};

/// What the rest of the crate knows about JimmyAI.
pub(crate) const FACTS: Facts = Facts {
    name: "jimmyai",
    default_base_url: "https://www.jimmyai.cn",
    route_root: jimmyai_client::ROUTE_ROOT,
    api_key_var: "JIMMYAI_API_KEY",
    base_url_var: "JIMMYAI_BASE_URL",
    dialect: Dialect {
        provider: Provider::JimmyAi,
        success_code: SUCCESS_CODE,
        kind_for_code,
        codes_are_http_statuses: false,
        codes_confirmed: false,
        request_ids: false,
        is_own_envelope,
        task_id_field: "id",
    },
    set_engine: |req, engine| Ok(req.sound_version(engine.parse()?)),
    // The vendor says "poll every 5-10 s": 5 s growing by 1.25x to 10 s, 15 min deadline.
    webhooks: false,
    wait: WaitDefaults {
        first_interval: Duration::from_secs(5),
        growth: 1.25,
        max_interval: Duration::from_secs(10),
        jitter: 0.1,
        deadline: Some(Duration::from_secs(15 * 60)),
        max_polls: Some(200),
    },
    connect,
};

/// Uploads of up to 100 MB get longer than the default timeout.
#[cfg(feature = "upload")]
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(300);

/// JimmyAI's business `code` for success (documented).
const SUCCESS_CODE: i64 = 20000;

/// JimmyAI's own envelope has `msg` and `data` in every answer (api-facts B2, CONFIRMED), and
/// its codes are its own (20000, 20001, 20002, -1): a `{"code":503,"msg":...,"data":null}`,
/// the shape of many gateways' error handlers, is a relay's.
fn is_own_envelope(keys: EnvelopeKeys) -> bool {
    let own_code = keys
        .code
        .is_some_and(|c| c == SUCCESS_CODE || kind_for_code(c).is_some());
    keys.msg && keys.data && own_code
}

/// JimmyAI business `code`. Only 20000 (success) is documented; 20001, 20002 and -1 come
/// from a third-party summary (UNCONFIRMED): the dialect says so (`codes_confirmed: false`),
/// and on a create 20001 or 20002 not behind an HTTP 4xx keeps its kind but is not
/// resubmittable (`Error::may_resubmit` false, a note says why).
pub(crate) fn kind_for_code(code: i64) -> Option<ErrorKind> {
    Some(match code {
        20001 => ErrorKind::Unauthorized,
        20002 => ErrorKind::InvalidRequest,
        -1 => ErrorKind::Server,
        _ => return None,
    })
}

/// The code [`kind_for_code`] reads as `kind` (refusals only: the fake answers with it).
#[cfg(feature = "fake")]
pub(crate) fn code_for_kind(kind: &ErrorKind) -> Option<i64> {
    match kind {
        ErrorKind::Unauthorized => Some(20001),
        ErrorKind::InvalidRequest => Some(20002),
        _ => None,
    }
}

fn connect(c: &Connect) -> Result<AnyBackend, Error> {
    #[cfg(feature = "upload")]
    let long_ops = [("upload_file", UPLOAD_TIMEOUT)];
    #[cfg(not(feature = "upload"))]
    let long_ops = [];
    let config = c.config(&long_ops)?;
    Ok(AnyBackend::JimmyAi(JimmyAi {
        client: jimmyai_client::Client::new_with_client(&c.base, c.http.clone(), config),
        #[cfg(feature = "upload")]
        uploads: c.uploads.clone(),
    }))
}

/// The JimmyAI backend: its generated client. JimmyAI has no voice list, so
/// `list_voices`, `rename_voice` and `delete_voice` are `Unsupported`.
#[derive(Debug)]
pub(crate) struct JimmyAi {
    client: jimmyai_client::Client,
    /// Local recordings: the caller's progress callback and size limit.
    #[cfg(feature = "upload")]
    uploads: Uploads,
}

impl Backend for JimmyAi {
    fn clone_voice<'a>(
        &'a self,
        t: &'a Transport,
        req: &'a CloneRequest,
        allow_private: bool,
    ) -> BoxFuture<'a, Result<CloneJob, Error>> {
        #[cfg(feature = "upload")]
        if req.audio.is_local() {
            return Box::pin(clone_from_local(t, &self.client, req, &self.uploads));
        }
        Box::pin(clone_voice(t, &self.client, req, allow_private))
    }

    fn clone_status<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<CloneJob, Error>> {
        Box::pin(clone_status(t, &self.client, id))
    }

    fn cloned_voice<'a>(
        &'a self,
        _t: &'a Transport,
        _id: &'a JobId,
        job: CloneJob,
    ) -> BoxFuture<'a, Result<Voice, Error>> {
        let refused = job.refused_result;
        Box::pin(std::future::ready(job.voice.ok_or_else(|| {
            // A modelId this crate refuses is quoted: the preview is paid, JimmyAI lists no
            // voices, and its text is all its support can go by.
            let message = match refused {
                Some(refused) => format!("the task completed with {refused}"),
                None => "the task completed without a modelId".to_owned(),
            };
            Error::new(ErrorKind::InvalidResponse).with_message(message)
        })))
    }

    fn synthesize<'a>(
        &'a self,
        t: &'a Transport,
        req: &'a SpeechRequest,
    ) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        Box::pin(synthesize(t, &self.client, req))
    }

    fn speech_status<'a>(
        &'a self,
        t: &'a Transport,
        id: &'a JobId,
    ) -> BoxFuture<'a, Result<SpeechJob, Error>> {
        Box::pin(speech_status(t, &self.client, id))
    }

    #[cfg(feature = "upload")]
    fn upload<'a>(
        &'a self,
        t: &'a Transport,
        source: &'a AudioSource,
        _allow_private: bool,
    ) -> BoxFuture<'a, Result<url::Url, Error>> {
        Box::pin(upload(t, &self.client, source, &self.uploads))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn code_table() {
        assert_eq!(kind_for_code(20001), Some(ErrorKind::Unauthorized));
        #[cfg(feature = "fake")]
        for kind in [ErrorKind::Unauthorized, ErrorKind::InvalidRequest] {
            assert_eq!(code_for_kind(&kind).and_then(kind_for_code), Some(kind));
        }
        assert_eq!(kind_for_code(20002), Some(ErrorKind::InvalidRequest));
        assert_eq!(kind_for_code(-1), Some(ErrorKind::Server));
        assert_eq!(kind_for_code(20000), None);
        assert_eq!(kind_for_code(12345), None);
    }
}
