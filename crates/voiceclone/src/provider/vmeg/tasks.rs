//! Task and voice management: `tasks/list` pages, `tasks/detail` as a typed job,
//! `tasks/delete`, and pages of the cloned (`voice/clone/list`) and system
//! (`voice/basic/list`) voice lists.

use vmeg_client::types;

use super::calls::{
    TASKS_PAGE_SIZE, VOICES_PAGE_SIZE, fresh_key_on_conflict, key_header, new_key, route,
};
use super::results::{clone_job, map_status, parsed_time, speech_job, text};
use crate::error::{Error, ErrorKind};
use crate::model::{
    CloneJob, JobId, JobKind, Provider, SpeechJob, TaskDetail, TaskSummary, UnreadTypes, Voice,
};
use crate::provider::paging::{BadUrls, Page};
use crate::retry::OperationKind;
use crate::transport::{Call, RequestId, Transport, envelopes};
use crate::validate;
use crate::wire::{checked_url, same_result_task, usable_id};

envelopes! {
    types::TaskListEnvelope => types::TaskListData, message;
    types::BasicVoiceListEnvelope => types::BasicVoiceListData, message;
}

/// VMEG `taskType` for a kind (the server-side filter).
fn vendor_type(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Clone => "cloneVoice",
        JobKind::Speech => "tts",
    }
}

/// The kind a VMEG `taskType` names (`None`: translation, dubbing, or unknown), read as the
/// status calls read it ([`super::task_type`]).
fn kind_of(vendor_type: &str) -> Option<JobKind> {
    match super::task_type(vendor_type) {
        super::TaskType::Job(kind) => Some(kind),
        super::TaskType::OtherProduct | super::TaskType::Unknown => None,
    }
}

fn status_of(raw: Option<&str>) -> crate::model::TaskStatus {
    raw.map_or(crate::model::TaskStatus::Unknown(String::new()), map_status)
}

fn summary(r: &types::TaskSummary) -> Option<TaskSummary> {
    let id = usable_id(text(r.task_id.as_ref()))?;
    let vendor_type = text(r.task_type.as_ref()).unwrap_or_default();
    let raw = text(r.status.as_ref());
    let mut s = TaskSummary::new(
        Provider::Vmeg,
        // The server's id as it is: `From<String>` would read a stored form out of it.
        crate::model::JobId::new(id),
        kind_of(vendor_type),
        vendor_type,
        status_of(raw),
    );
    if let Some(raw) = raw {
        s = s.with_vendor_status(raw);
    }
    // Without a UTC offset the time is a guess (api-facts: only "ISO 8601"): reconcile must
    // know, or a vendor writing local time would put every task outside its window.
    match text(r.created_at.as_ref()).and_then(crate::time::parse_iso8601_zoned) {
        Some((at, true)) => s = s.with_created_at(at),
        Some((at, false)) => s = s.with_created_at_offset_unknown(at),
        None => {}
    }
    if let Some(at) = parsed_time(r.updated_at.as_ref()) {
        s = s.with_updated_at(at);
    }
    Some(s)
}

/// A list answer whose `records` is something other than an array (an object, a string),
/// or an array longer than is read from one answer ([`client_glue::MAX_LIST_ELEMENTS`]):
/// read as empty, or as the page it seems, it would hide records, and "no such task" is
/// what reconcile takes as "nothing was created".
fn records_are_a_list<T>(records: &client_glue::List<T>, what: &str) -> Result<(), Error> {
    let message = if records.is_malformed() {
        format!("the {what}'s records are not an array: the listing cannot be read")
    } else if records.is_truncated() {
        format!(
            "the {what} sent {} records on one page, more than the {} read from one answer: the listing would be incomplete",
            records.sent(),
            client_glue::MAX_LIST_ELEMENTS
        )
    } else {
        return Ok(());
    };
    Err(Error::new(ErrorKind::InvalidResponse)
        .with_provider(Provider::Vmeg)
        .with_message(message))
}

fn page_total(total: Option<&client_glue::Int>) -> Option<i64> {
    total.and_then(|t| t.value())
}

pub(crate) async fn tasks_page(
    t: &Transport,
    c: &vmeg_client::Client,
    kind: Option<JobKind>,
    page: i64,
) -> Result<Page<TaskSummary>, Error> {
    let call = Call {
        operation: "tasks",
        route: route("tasks_list"),
        kind: OperationKind::Read,
        idempotency_key: None,
        body: None,
        free_text: &[],
        fresh_key: false,
        synchronous: false,
    };
    let task_type = kind.map(vendor_type);
    let data = t
        .send(call, None, |rid: RequestId| async move {
            // No `pageSize`: the server's own default applies (see `TASKS_PAGE_SIZE`).
            c.tasks_list(Some(page), None, Some(rid.as_str()), None, task_type)
                .await
        })
        .await?
        .unwrap_or_default();
    records_are_a_list(&data.records, "task list")?;
    let total = page_total(data.total.as_ref());
    // A record without a usable id is skipped, but its type, when VMEG names one, says
    // whether it may be the task a search looks for (another product's cannot be).
    let mut unread_types = UnreadTypes::default();
    let items = data
        .records
        .iter()
        .filter_map(|r| {
            let read = summary(r);
            if read.is_none() {
                match super::task_type(text(r.task_type.as_ref()).unwrap_or_default()) {
                    super::TaskType::Job(kind) => unread_types.note_kind(kind),
                    super::TaskType::OtherProduct => unread_types.note_other_product(),
                    super::TaskType::Unknown => {}
                }
            }
            read
        })
        .collect();
    Ok(Page {
        items,
        // `data` null, `{}`, `records` null without a `total`: listed as empty, but no
        // evidence that the account has no task (paging.rs, reconcile).
        unlisted: !data.records.is_array() && total.is_none(),
        total,
        page_size: TASKS_PAGE_SIZE,
        // Every record sent counts, skipped ones (`null`, undecodable) included: a page of
        // them is neither empty nor short (paging.rs).
        returned: data.records.sent(),
        bad_urls: BadUrls::default(),
        unread_types,
    })
}

/// `tasks/detail`, typed by its `taskType`: a clone or speech job built as `clone_status` /
/// `speech_status` build theirs (the shape of `result` is UNKNOWN; the same assumptions).
pub(crate) async fn task(
    t: &Transport,
    c: &vmeg_client::Client,
    id: &JobId,
) -> Result<TaskDetail, Error> {
    validate::id("job_id", id.as_str())?;
    let call = Call {
        operation: "task",
        route: route("tasks_detail"),
        kind: OperationKind::Read,
        idempotency_key: None,
        body: None,
        free_text: &[],
        fresh_key: false,
        synchronous: false,
    };
    let d = t
        .send(call, None, |rid: RequestId| async move {
            c.tasks_detail(Some(rid.as_str()), id.as_str()).await
        })
        .await?
        .ok_or_else(|| {
            Error::new(ErrorKind::InvalidResponse)
                .with_provider(Provider::Vmeg)
                .with_message("the answer has no task")
                .answer_without_task()
        })?;
    crate::wire::same_task(Provider::Vmeg, id, text(d.task_id.as_ref()))
        .map_err(|e| e.with_operation("task"))?;
    let raw = text(d.status.as_ref()).map(str::to_owned);
    let status = status_of(raw.as_deref());
    let vendor_type = text(d.task_type.as_ref()).unwrap_or_default().to_owned();
    let result_text = d.result.as_ref().map_or("null", |r| r.get()).trim();
    let object = result_text.starts_with('{');
    // A failure read from a status word VMEG does not document says so, as
    // `clone_status`, `speech_status` and the waits do: the task may be alive.
    let reason = super::status::failure_reason(&status, raw.as_deref(), || {
        super::status::result_reason(t, result_text)
    });
    let detail = match kind_of(&vendor_type) {
        Some(JobKind::Clone) => {
            let data: types::CloneVoiceCreateData = if object {
                crate::scrub::decoding_with(&t.text_filter, || {
                    serde_json::from_slice(result_text.as_bytes()).unwrap_or_default()
                })
            } else {
                Default::default()
            };
            // The result's own task id, as `clone_status` checks it: never another task's
            // voice under the asked id.
            same_result_task(Provider::Vmeg, id, text(data.task_id.as_ref()))
                .map_err(|e| e.with_operation("task"))?;
            let mut job = clone_job(&data, Some(id), status.clone())
                .unwrap_or_else(|| CloneJob::new(Provider::Vmeg, id.clone(), status.clone()));
            job.id = id.clone();
            if let Some(raw) = raw {
                job = job.with_vendor_status(raw);
            }
            if let Some(reason) = reason {
                job = job.with_error(reason);
            }
            TaskDetail::Clone(job)
        }
        Some(JobKind::Speech) => {
            let data: types::TtsCreateData = if object {
                crate::scrub::decoding_with(&t.text_filter, || {
                    serde_json::from_slice(result_text.as_bytes()).unwrap_or_default()
                })
            } else {
                Default::default()
            };
            same_result_task(Provider::Vmeg, id, text(data.task_id.as_ref()))
                .map_err(|e| e.with_operation("task"))?;
            let mut job = speech_job(&data, Some(id), status.clone())
                .unwrap_or_else(|| SpeechJob::new(Provider::Vmeg, id.clone(), status.clone()));
            job.id = id.clone();
            if let Some(raw) = raw {
                job = job.with_vendor_status(raw);
            }
            if let Some(reason) = reason {
                job = job.with_error(reason);
            }
            TaskDetail::Speech(job)
        }
        None => {
            let mut s = TaskSummary::new(Provider::Vmeg, id.clone(), None, vendor_type, status);
            if let Some(raw) = raw {
                s = s.with_vendor_status(raw);
            }
            TaskDetail::Other(s)
        }
    };
    Ok(detail)
}

pub(crate) async fn delete_task(
    t: &Transport,
    c: &vmeg_client::Client,
    id: &JobId,
) -> Result<(), Error> {
    validate::id("job_id", id.as_str())?;
    let body = types::TaskDeleteRequest {
        task_id: id.as_str().to_owned(),
    };
    let key = new_key(t);
    let header = key_header(&key)?;
    // The `taskId` in an unknown outcome's summary says which task to check.
    let summary = || serde_json::to_value(&body).ok();
    let call = Call {
        operation: "delete_task",
        route: route("tasks_delete"),
        kind: OperationKind::IdempotentWrite,
        idempotency_key: Some(&key),
        body: Some(&summary),
        free_text: &[],
        fresh_key: true,
        synchronous: false,
    };
    t.send(call, None, |rid: RequestId| {
        let (header, body) = (&header, &body);
        async move { c.tasks_delete(Some(rid.as_str()), header, body).await }
    })
    .await?;
    Ok(())
}

/// A voice's preview URL (`audio`), kept only when it is http(s); one refused is counted in
/// `bad` (the walk logs the count once, not a line per record).
fn with_preview(v: Voice, audio: Option<&str>, bad: &mut BadUrls) -> Voice {
    match checked_url(audio) {
        Ok(Some(u)) => v.with_preview_url(u),
        Ok(None) => v,
        Err(why) => {
            bad.note(v.id.as_str(), why);
            v
        }
    }
}

fn listed_voice(r: &types::CloneVoice, bad: &mut BadUrls) -> Option<(Voice, Option<JobId>)> {
    let id = usable_id(text(r.voice_id.as_ref()))?;
    let mut v = Voice::new(Provider::Vmeg, id);
    if let Some(n) = text(r.name.as_ref()).filter(|n| !n.is_empty()) {
        v = v.with_name(n);
    }
    v = with_preview(v, text(r.audio.as_ref()), bad);
    if let Some(at) = parsed_time(r.create_time.as_ref()) {
        v = v.with_created_at(at);
    }
    let task = usable_id(text(r.task_id.as_ref())).map(JobId::new);
    Some((v, task))
}

fn system_voice(r: &types::BasicVoice, bad: &mut BadUrls) -> Option<(Voice, Option<JobId>)> {
    let id = usable_id(text(r.voice_id.as_ref()))?;
    let mut v = Voice::new(Provider::Vmeg, id);
    let name = [&r.display_name, &r.local_name]
        .into_iter()
        .find_map(|n| text(n.as_ref()).filter(|n| !n.trim().is_empty()));
    if let Some(n) = name {
        v = v.with_name(n);
    }
    v = with_preview(v, text(r.audio.as_ref()), bad);
    if let Some(at) = parsed_time(r.create_time.as_ref()) {
        v = v.with_created_at(at);
    }
    Some((v, None))
}

/// One page of the cloned or system voices. The guide asks for an idempotency key on every
/// POST, and VMEG refuses a key twice: a read whose answer was lost after it landed would
/// meet a 409 on its retry under the same key, so the page is asked again under a new one.
pub(crate) async fn voices_page(
    t: &Transport,
    c: &vmeg_client::Client,
    system: bool,
    name: Option<&str>,
    page: i64,
) -> Result<crate::provider::paging::VoicePage, Error> {
    if system {
        let body = types::BasicVoiceListRequest {
            current_page: Some(page),
            // No `pageSize`: the server's own default applies (see `VOICES_PAGE_SIZE`).
            page_size: None,
            search_name: name.map(str::to_owned),
            ..Default::default()
        };
        let body = &body;
        let data = fresh_key_on_conflict(t, |key| async move {
            let header = key_header(&key)?;
            let call = list_call("system_voices", "voice_basic_list", &key);
            t.send(call, None, |rid: RequestId| {
                let header = &header;
                async move {
                    c.voice_basic_list(Some(rid.as_str()), Some(header), body)
                        .await
                }
            })
            .await
        })
        .await?
        .unwrap_or_default();
        records_are_a_list(&data.records, "system-voice list")?;
        let total = page_total(data.total.as_ref());
        let mut bad_urls = BadUrls::default();
        return Ok(Page {
            items: data
                .records
                .iter()
                .filter_map(|r| system_voice(r, &mut bad_urls))
                .collect(),
            unlisted: !data.records.is_array() && total.is_none(),
            total,
            page_size: VOICES_PAGE_SIZE,
            returned: data.records.sent(),
            bad_urls,
            unread_types: UnreadTypes::default(),
        });
    }
    let body = types::CloneVoiceListRequest {
        current_page: Some(page),
        page_size: None,
        search_name: name.map(str::to_owned),
        ..Default::default()
    };
    let body = &body;
    let data = fresh_key_on_conflict(t, |key| async move {
        let header = key_header(&key)?;
        let call = list_call("voices", "voice_clone_list", &key);
        t.send(call, None, |rid: RequestId| {
            let header = &header;
            async move {
                c.voice_clone_list(Some(rid.as_str()), Some(header), body)
                    .await
            }
        })
        .await
    })
    .await?
    .unwrap_or_default();
    records_are_a_list(&data.records, "cloned-voice list")?;
    let total = page_total(data.total.as_ref());
    let mut bad_urls = BadUrls::default();
    Ok(Page {
        items: data
            .records
            .iter()
            .filter_map(|r| listed_voice(r, &mut bad_urls))
            .collect(),
        unlisted: !data.records.is_array() && total.is_none(),
        total,
        page_size: VOICES_PAGE_SIZE,
        returned: data.records.sent(),
        bad_urls,
        unread_types: UnreadTypes::default(),
    })
}

/// A keyed list read.
fn list_call<'a>(operation: &'static str, rust_name: &str, key: &'a str) -> Call<'a> {
    Call {
        operation,
        route: route(rust_name),
        kind: OperationKind::Read,
        idempotency_key: Some(key),
        body: None,
        free_text: &[],
        fresh_key: false,
        synchronous: false,
    }
}
