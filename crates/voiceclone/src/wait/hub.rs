//! Waiting with a completion hub: the task's webhook, with polling as the fallback.

use std::any::Any;
use std::future::Future;
use std::time::Duration;

use super::WaitPolicy;
use super::poll::{Progress, poll_from};
use crate::error::{Error, ErrorKind};
use crate::model::{Job, JobId, Provider, TaskStatus};
use crate::sleep::Sleeper;
use crate::webhook::{CompletionHub, WebhookEvent, WebhookPayload};

/// Waits for `job_id` to end: its first verified webhook event (through `hub`), or polling.
///
/// While the hub is healthy, polling runs on the slow fallback schedule
/// ([`WaitPolicy::webhook_fallback`]); when the hub's store is or becomes unreachable, a
/// warning is logged and polling continues on the normal schedule, within the same deadline
/// and poll bound. Returns the terminal job (the caller turns `Failed` into `TaskFailed`).
pub(crate) async fn wait_with_hub<J, F, Fut>(
    hub: &CompletionHub,
    policy: &WaitPolicy,
    sleeper: &dyn Sleeper,
    job_id: &JobId,
    mut poll: F,
) -> Result<J, Error>
where
    J: Job,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<J, Error>>,
{
    let progress = Progress::new();
    let fallback = policy.webhook_fallback();
    {
        let polled = poll_from(
            &fallback,
            sleeper,
            job_id,
            &mut poll,
            J::status,
            &progress,
            fallback.first_interval,
        );
        let heard = async {
            let event = hub.wait_for(job_id).await?;
            match job_from_event::<J>(event, job_id) {
                Some(outcome) => Ok::<_, crate::webhook::StoreError>(outcome),
                None => {
                    tracing::warn!(job_id = %job_id, "the task's webhook carries no usable result; waiting for polling");
                    std::future::pending().await
                }
            }
        };
        tokio::select! {
            biased;
            heard = heard => match heard {
                Ok(outcome) => {
                    tracing::debug!(job_id = %job_id, polls = progress.polls(), "completed by webhook");
                    return outcome;
                }
                Err(e) => {
                    tracing::warn!(job_id = %job_id, error = %e, "the completion hub is unavailable; polling on the normal schedule");
                }
            },
            polled = polled => return polled,
        }
    }
    poll_from(
        policy,
        sleeper,
        job_id,
        &mut poll,
        J::status,
        &progress,
        Duration::ZERO,
    )
    .await
}

/// The terminal job an event says the task reached; `None` when it cannot say (a success
/// whose `data` did not decode: polling will tell).
fn job_from_event<J: Job>(event: WebhookEvent, job_id: &JobId) -> Option<Result<J, Error>> {
    let failed = || {
        let mut job = J::new(Provider::Vmeg, job_id.clone(), TaskStatus::Failed);
        job.set_error(
            event
                .message
                .clone()
                .unwrap_or_else(|| format!("vendor code {}", event.code)),
        );
        job
    };
    let (kind, job): (&str, Box<dyn Any>) = match event.payload {
        WebhookPayload::Clone(job) => ("clone", Box::new(job)),
        WebhookPayload::Speech(job) => ("speech", Box::new(job)),
        // Failure callbacks are not documented in shape: a non-200 code is a failure
        // whatever `data` holds.
        WebhookPayload::Other(_) if !event.succeeded() => return Some(Ok(failed())),
        WebhookPayload::Other(_) => return None,
    };
    match job.downcast::<J>() {
        Ok(job) => Some(Ok(*job)),
        Err(_) => Some(Err(Error::new(ErrorKind::InvalidInput {
            field: "job_id".into(),
            reason: format!(
                "task {job_id} is a {kind} task (its webhook is {}), not a {} task",
                event.kind.as_str(),
                J::KIND
            ),
        }))),
    }
}
