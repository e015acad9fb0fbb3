//! The cloned-voice list: listing, finding a finished clone's voice, renaming, deleting.

use vmeg_client::types;

use futures_util::TryStreamExt as _;

use super::calls::{key_header, new_key, route};
use super::tasks::voices_page;
use crate::error::Error;
use crate::model::{JobId, Voice};
use crate::provider::paging::{walk, walk_unbounded_text};
use crate::retry::OperationKind;
use crate::transport::{Call, RequestId, Transport};
use crate::validate;

/// The cloned voices, every page (no cap: see `provider::paging`), as a stream.
fn cloned_voices<'a>(
    t: &'a Transport,
    c: &'a vmeg_client::Client,
    name: Option<&'a str>,
    search: bool,
) -> futures_util::stream::BoxStream<'a, Result<(Voice, Option<JobId>), Error>> {
    let page = move |page| voices_page(t, c, false, name, page);
    if search {
        // A search keeps only the voice it looks for: no text bound (the voice of a paid
        // clone is found in any account).
        walk_unbounded_text("cloned-voice list", page, None)
    } else {
        walk("cloned-voice list", page)
    }
}

pub(crate) async fn list_voices(
    t: &Transport,
    c: &vmeg_client::Client,
) -> Result<Vec<Voice>, Error> {
    cloned_voices(t, c, None, false)
        .map_ok(|(v, _)| v)
        .try_collect()
        .await
}

/// The voice a finished clone task made: the voice list entry whose `taskId` matches,
/// looked for among the voices named `name` first when the name is known, then in the
/// whole list (a voice may have been renamed; a client that did not submit the clone
/// knows no name). Every page is read: past any number of voices the entry is found.
/// `Ok(None)` when no listed voice carries the task's id.
pub(crate) async fn voice_for_task(
    t: &Transport,
    c: &vmeg_client::Client,
    id: &JobId,
    name: Option<&str>,
) -> Result<Option<Voice>, Error> {
    let searches: &[Option<&str>] = match name {
        Some(_) => &[name, None],
        None => &[None],
    };
    for search in searches {
        let mut voices = cloned_voices(t, c, *search, true);
        while let Some((voice, task)) = voices.try_next().await? {
            if task.as_ref().map(JobId::as_str) == Some(id.as_str()) {
                return Ok(Some(voice));
            }
        }
    }
    Ok(None)
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
    let key = new_key(t);
    let header = key_header(&key)?;
    // The `voiceId` in an unknown outcome's summary says which voice to check; the new
    // name is the caller's free text, summarized, never quoted.
    let summary = || serde_json::to_value(&body).ok();
    let call = Call {
        operation: "rename_voice",
        route: route("voice_clone_update"),
        kind: OperationKind::IdempotentWrite,
        idempotency_key: Some(&key),
        body: Some(&summary),
        free_text: &["voiceName"],
        fresh_key: true,
        synchronous: false,
    };
    t.send(call, None, |rid: RequestId| {
        let (header, body) = (&header, &body);
        async move { c.voice_clone_update(Some(rid.as_str()), header, body).await }
    })
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
    let key = new_key(t);
    let header = key_header(&key)?;
    // The `voiceId` in an unknown outcome's summary says which voice to check.
    let summary = || serde_json::to_value(&body).ok();
    let call = Call {
        operation: "delete_voice",
        route: route("voice_clone_delete"),
        kind: OperationKind::IdempotentWrite,
        idempotency_key: Some(&key),
        body: Some(&summary),
        free_text: &[],
        fresh_key: true,
        synchronous: false,
    };
    t.send(call, None, |rid: RequestId| {
        let (header, body) = (&header, &body);
        async move { c.voice_clone_delete(Some(rid.as_str()), header, body).await }
    })
    .await?;
    Ok(())
}
