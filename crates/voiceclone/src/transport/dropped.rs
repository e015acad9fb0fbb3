//! A write (a create; a VMEG delete or rename) whose call is dropped after a request of it may
//! have reached the provider (a `select!`, a timer around it, a web handler cancelled when its
//! own client went away): no error will ever carry what finds its task, so it is logged once,
//! at the level and with the fields of an unknown outcome (`retry::run::outcome_unknown`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use super::{Call, Transport};

/// Armed for a write with consequences once an attempt holds its slot (a call dropped while
/// queued sent nothing), and again unarmed when that attempt reached nothing (a refused
/// connect) and none before it had; disarmed when the call ends, however it ends.
pub(super) struct DroppedWrite<'a> {
    transport: &'a Transport,
    call: &'a Call<'a>,
    submitted_at: SystemTime,
    sent: AtomicBool,
    watching: bool,
}

impl<'a> DroppedWrite<'a> {
    pub(super) fn new(transport: &'a Transport, call: &'a Call<'a>) -> Self {
        Self {
            transport,
            call,
            submitted_at: SystemTime::now(),
            sent: AtomicBool::new(false),
            watching: call.kind.has_consequences(),
        }
    }

    /// An attempt may now put its request on the wire. Whether one had before.
    pub(super) fn sending(&self) -> bool {
        if self.call.synchronous {
            // A resend of a synchronous create holds its key while this may run at VMEG.
            crate::client::resend_sending(true);
        }
        self.sent.swap(true, Ordering::Relaxed)
    }

    /// The attempt that was sending reached nothing, and none before it had.
    pub(super) fn not_sent(&self) {
        if self.call.synchronous {
            crate::client::resend_sending(false);
        }
        self.sent.store(false, Ordering::Relaxed);
    }

    /// The call ended: its error (or result) tells what happened.
    pub(super) fn ended(mut self) {
        self.watching = false;
    }
}

impl Drop for DroppedWrite<'_> {
    fn drop(&mut self) {
        if !self.watching || !self.sent.load(Ordering::Relaxed) {
            return;
        }
        // Built only here: scrubbed, free text as its length and a hash, URLs without their
        // query (a presigned URL's signature).
        let request = self.call.summary(&self.transport.scrubber);
        tracing::warn!(
            provider = %self.transport.provider,
            operation = self.call.operation,
            idempotency_key = self.call.idempotency_key.unwrap_or(""),
            submitted_at = %crate::time::format_rfc3339(self.submitted_at),
            request = %request,
            "write dropped mid-call; its outcome is unknown: look its task up before sending it again"
        );
    }
}
