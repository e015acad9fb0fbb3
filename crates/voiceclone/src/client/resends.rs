//! One resend per idempotency key at a time in a client (and its clones): two resends of
//! the same submit at once (two tasks handling one error, a retry loop racing a user) would
//! both reach VMEG with the key in flight, and whether VMEG deduplicates a key whose first
//! request is still being processed is UNKNOWN (api-facts A4): the second could bill again.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::error::Error;

/// The keys being resent now.
#[derive(Debug, Default)]
pub(super) struct Resends(Mutex<HashSet<String>>);

/// A key taken by [`Resends::take`]; given back when dropped (the resend ended, failed or
/// was cancelled).
pub(super) struct Taken<'a> {
    resends: &'a Resends,
    key: String,
}

impl Resends {
    /// `key` for one resend, or `InvalidInput` naming `idempotency_key` (nothing sent) when
    /// another resend with it is still in flight.
    pub(super) fn take(&self, key: &str) -> Result<Taken<'_>, Error> {
        let mut keys = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !keys.insert(key.to_owned()) {
            return Err(Error::invalid_input(
                "idempotency_key",
                "another resend with this key is in flight in this client: wait for its result \
                 (two at once could both reach the provider, and whether it deduplicates a key \
                 still being processed is unknown)",
            ));
        }
        Ok(Taken {
            resends: self,
            key: key.to_owned(),
        })
    }
}

impl Drop for Taken<'_> {
    fn drop(&mut self) {
        let mut keys = self.resends.0.lock().unwrap_or_else(|p| p.into_inner());
        keys.remove(&self.key);
    }
}
