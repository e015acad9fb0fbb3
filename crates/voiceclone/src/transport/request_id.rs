//! Request ids: one per attempt of a call, sent to vendors that take one (VMEG's `req_id`
//! query parameter, api-facts A5), recorded in the call's span and on its error so that an
//! operator can quote the exact request to the vendor's support.

use std::fmt;

/// The id of one HTTP attempt: 128 random bits as 32 lowercase hex digits, the same shape
/// VMEG gives the ids it makes itself when a request carries none. Every attempt (each
/// retry too) gets its own; it means nothing beyond "this request" (no time, no counter).
///
/// Inline and `Copy`, so that each attempt's future can own its id without an allocation.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct RequestId([u8; 32]);

impl RequestId {
    /// A fresh random id holding no piece of the API key `scrubber` looks for: it is printed
    /// in errors and log lines, which are never scrubbed for it (`RandomId::clear_of`).
    pub(crate) fn new(scrubber: &crate::scrub::Scrubber) -> Self {
        RequestId(crate::random_id::RandomId::clear_of(scrubber).hex())
    }

    /// The id as sent on the wire.
    pub(crate) fn as_str(&self) -> &str {
        // Always ASCII hex: written by `new` above and never changed.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_32_lowercase_hex_and_differ() {
        let scrubber = crate::scrub::Scrubber::new("sk-test-key");
        let a = RequestId::new(&scrubber);
        let b = RequestId::new(&scrubber);
        assert_eq!(a.as_str().len(), 32);
        assert!(
            a.as_str()
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)),
            "{a}"
        );
        assert_ne!(a, b);
        assert_eq!(format!("{a}"), a.as_str());
    }
}
