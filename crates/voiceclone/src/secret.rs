//! Secrets that must never reach a log line, an error message or a panic.
//!
//! Both types print as `[redacted]` through `Debug` and `Display`. The raw value is only
//! reachable inside this crate (to build the `Authorization` header or the webhook HMAC key),
//! so a caller cannot leak it by formatting anything this crate hands back.

use std::fmt;

macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value. Surrounding whitespace (a stray newline from a file or
            /// an environment variable) is trimmed because it is never part of a key.
            pub fn new(value: impl Into<String>) -> Self {
                let value: String = value.into();
                let trimmed = value.trim();
                if trimmed.len() == value.len() {
                    Self(value)
                } else {
                    Self(trimmed.to_owned())
                }
            }

            /// True when the secret is empty (after trimming).
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }

            /// The raw value; crate-private so nothing outside can print it by accident.
            #[cfg_attr(not(feature = "webhook"), allow(dead_code))] // ApiKey's goes out as a header
            pub(crate) fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("[redacted]")
            }
        }

        impl From<String> for $name {
            fn from(value: String) -> Self {
                Self::new(value)
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                Self::new(value)
            }
        }
    };
}

secret_type!(
    /// A provider API key, sent as `Authorization: Bearer <key>` and nowhere else.
    ApiKey
);

secret_type!(
    /// The VMEG webhook secret shown on the "API Configuration" page; the HMAC key for
    /// `webhook::Verifier` (feature `webhook`).
    WebhookSecret
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let key = ApiKey::new("sk-very-secret");
        assert_eq!(format!("{key}"), "[redacted]");
        assert_eq!(format!("{key:?}"), "[redacted]");
        assert_eq!(format!("{:#?}", Some(&key)), "Some(\n    [redacted],\n)");
        let secret = WebhookSecret::from("whsec");
        assert!(!format!("{secret:?}{secret}").contains("whsec"));
    }

    #[test]
    fn trims_and_exposes_inside_the_crate() {
        let key = ApiKey::new("  abc\n");
        assert_eq!(key.expose(), "abc");
        assert!(ApiKey::new(" \n").is_empty());
    }
}
