//! The cloned-voice list: listing, finding a finished clone's voice, renaming, deleting.

use vmeg_client::types;

use super::calls::{LIST_MAX_PAGES, LIST_PAGE_SIZE, key_header, new_key, route};
use super::results::{parsed_time, text};
use crate::error::{Error, ErrorKind};
use crate::model::{JobId, Provider, Voice};
use crate::retry::OperationKind;
use crate::transport::{Call, Transport};
use crate::validate;
use crate::wire::{parse_url, usable_id};

fn listed_voice(r: &types::CloneVoice) -> Option<Voice> {
    let id = usable_id(text(r.voice_id.as_ref()))?;
    let mut v = Voice::new(Provider::Vmeg, id);
    if let Some(n) = text(r.name.as_ref()).filter(|n| !n.is_empty()) {
        v = v.with_name(n);
    }
    if let Some(u) = parse_url("audio", text(r.audio.as_ref())) {
        v = v.with_preview_url(u);
    }
    if let Some(at) = parsed_time(r.create_time.as_ref()) {
        v = v.with_created_at(at);
    }
    Some(v)
}

/// How many pages a search for one finished clone's voice reads at most (100,000 voices at
/// 50 a page); reaching it is an error, never a silent miss.
const SEARCH_MAX_PAGES: i64 = 2_000;

/// Walks the cloned-voice list (a read: a fresh idempotency key per request), calling `stop`
/// on each record until it returns true or the pages run out. `Ok(false)` when `max_pages`
/// pages were read and more may follow.
async fn walk_voices(
    t: &Transport,
    c: &vmeg_client::Client,
    operation: &'static str,
    search_name: Option<&str>,
    max_pages: i64,
    mut stop: impl FnMut(&types::CloneVoice) -> bool,
) -> Result<bool, Error> {
    let mut seen: i64 = 0;
    for page in 1..=max_pages {
        let body = types::CloneVoiceListRequest {
            current_page: Some(page),
            page_size: Some(LIST_PAGE_SIZE),
            search_name: search_name.map(str::to_owned),
            ..Default::default()
        };
        let key = new_key();
        let header = key_header(&key)?;
        let call = Call {
            operation,
            route: route("voice_clone_list"),
            kind: OperationKind::Read,
            idempotency_key: Some(&key),
            body: None,
            free_text: &[],
        };
        let data = t
            .send(call, None, || {
                c.voice_clone_list(None, Some(&header), &body)
            })
            .await?
            .unwrap_or_default();
        let records = data.records;
        if records.is_empty() {
            return Ok(true);
        }
        seen = seen.saturating_add(i64::try_from(records.len()).unwrap_or(i64::MAX));
        for r in &records {
            if stop(r) {
                return Ok(true);
            }
        }
        if data
            .total
            .and_then(|t| t.value())
            .is_some_and(|total| seen >= total)
            || records.len() < usize::try_from(LIST_PAGE_SIZE).unwrap_or(usize::MAX)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

pub(crate) async fn list_voices(
    t: &Transport,
    c: &vmeg_client::Client,
) -> Result<Vec<Voice>, Error> {
    let mut out = Vec::new();
    walk_voices(t, c, "list_voices", None, LIST_MAX_PAGES, |r| {
        if let Some(v) = listed_voice(r) {
            out.push(v);
        }
        false
    })
    .await?;
    Ok(out)
}

/// The voice a finished clone task made, from the voice list entry whose `taskId` matches
/// (searched by `name` when the vendor gave one; the whole list otherwise, past any cap of
/// `list_voices`). Nothing here depends on which client submitted the task.
pub(crate) async fn voice_for_task(
    t: &Transport,
    c: &vmeg_client::Client,
    id: &JobId,
    name: Option<&str>,
) -> Result<Voice, Error> {
    let mut found = None;
    let complete = walk_voices(t, c, "wait_for_clone", name, SEARCH_MAX_PAGES, |r| {
        if text(r.task_id.as_ref()) == Some(id.as_str()) {
            found = listed_voice(r);
        }
        found.is_some()
    })
    .await?;
    found.ok_or_else(|| {
        let why = if complete {
            "no voice in the clone list carries its taskId".to_owned()
        } else {
            format!(
                "its voice is not among the first {} voices of the clone list",
                SEARCH_MAX_PAGES * LIST_PAGE_SIZE
            )
        };
        Error::new(ErrorKind::NotFound)
            .with_provider(Provider::Vmeg)
            .with_operation("wait_for_clone")
            .with_message(format!(
                "task {} finished but {why}; check list_voices()",
                id.as_str()
            ))
    })
}

pub(crate) async fn rename_voice(
    t: &Transport,
    c: &vmeg_client::Client,
    voice_id: &str,
    name: &str,
) -> Result<(), Error> {
    validate::id("voice_id", voice_id)?;
    validate::non_blank("name", name)?;
    let body = types::CloneVoiceUpdateRequest {
        voice_id: Some(voice_id.to_owned()),
        voice_name: Some(name.to_owned()),
    };
    let key = new_key();
    let header = key_header(&key)?;
    let call = Call {
        operation: "rename_voice",
        route: route("voice_clone_update"),
        kind: OperationKind::IdempotentWrite,
        idempotency_key: Some(&key),
        body: None,
        free_text: &[],
    };
    t.send(call, None, || c.voice_clone_update(None, &header, &body))
        .await?;
    Ok(())
}

pub(crate) async fn delete_voice(
    t: &Transport,
    c: &vmeg_client::Client,
    voice_id: &str,
) -> Result<(), Error> {
    validate::id("voice_id", voice_id)?;
    let body = types::CloneVoiceDeleteRequest {
        voice_id: Some(voice_id.to_owned()),
    };
    let key = new_key();
    let header = key_header(&key)?;
    let call = Call {
        operation: "delete_voice",
        route: route("voice_clone_delete"),
        kind: OperationKind::IdempotentWrite,
        idempotency_key: Some(&key),
        body: None,
        free_text: &[],
    };
    t.send(call, None, || c.voice_clone_delete(None, &header, &body))
        .await?;
    Ok(())
}
