//! The API key and base URL a submit went out under, kept on its `OutcomeUnknown` so a resend
//! or a search through a client of another account or endpoint can be refused: VMEG's keys,
//! tasks and lists are per API key (api-facts A4), so there the first submit's key is new
//! (a resend bills a second task) and its task cannot be seen (a search may answer `None`).

use std::fmt;
use std::sync::OnceLock;

use ring::hmac;

/// A client's API key and base URL. The key is held only as an HMAC-SHA256 tag under a random
/// key made once per process: nothing of it is kept, it cannot be printed, and no tag can be
/// compared with one of another process.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SentUnder {
    key_tag: Vec<u8>,
    base_url: String,
}

impl SentUnder {
    pub(crate) fn new(api_key: &str, base_url: &str) -> Self {
        static SALT: OnceLock<hmac::Key> = OnceLock::new();
        let salt = SALT.get_or_init(|| {
            // 256 random bits, drawn as two ids (their draw already falls back when the
            // system generator fails).
            let secret = format!(
                "{}{}",
                crate::random_id::RandomId::new(),
                crate::random_id::RandomId::new()
            );
            hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes())
        });
        Self {
            key_tag: hmac::sign(salt, api_key.as_bytes()).as_ref().to_vec(),
            base_url: base_url.to_owned(),
        }
    }
}

impl fmt::Debug for SentUnder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SentUnder(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::SentUnder;

    #[test]
    fn another_key_or_base_url_is_another_scope_and_nothing_of_the_key_prints() {
        let a = SentUnder::new("sk-key-a-0123456789", "https://api.example.com");
        assert_eq!(
            a,
            SentUnder::new("sk-key-a-0123456789", "https://api.example.com")
        );
        assert_ne!(
            a,
            SentUnder::new("sk-key-b-0123456789", "https://api.example.com")
        );
        assert_ne!(
            a,
            SentUnder::new("sk-key-a-0123456789", "https://other.example.com")
        );
        assert!(!format!("{a:?}").contains("sk-key"));
    }
}
