//! Who and which: the provider a client talks to, and vendor task ids.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which vendor a [`crate::Client`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Provider {
    /// VMEG Open API (Standalone), `https://api.vmeg.ai/openapi/v1/`.
    Vmeg,
    /// JimmyAI Open API (SoundClone), `https://www.jimmyai.cn/api/open-api/v1/`.
    JimmyAi,
}

/// A vendor task id (VMEG `taskId`, JimmyAI task `id` such as `audio_<uuid>`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct JobId(String);

impl JobId {
    /// Wraps a vendor task id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as sent to and received from the vendor.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for JobId {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for JobId {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl AsRef<str> for JobId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::{Error, ErrorKind};

    #[test]
    fn provider_parses_and_prints() {
        assert_eq!("VMEG".parse::<Provider>().unwrap(), Provider::Vmeg);
        assert_eq!(" JimmyAI ".parse::<Provider>().unwrap(), Provider::JimmyAi);
        let e = "jimmy".parse::<Provider>().unwrap_err();
        assert_eq!(e.field(), "provider");
        assert!(e.reason().contains("\"vmeg\" or \"jimmyai\""), "{e}");
        let e = Error::from(e);
        assert!(matches!(e.kind(), ErrorKind::InvalidInput { field, .. } if field == "provider"));
        assert_eq!(Provider::Vmeg.api_key_var(), "VMEG_API_KEY");
        assert_eq!(Provider::JimmyAi.base_url_var(), "JIMMYAI_BASE_URL");
        assert_eq!(Provider::JimmyAi.to_string(), "jimmyai");
        assert_eq!(
            serde_json::to_string(&Provider::JimmyAi).unwrap(),
            "\"jimmyai\""
        );
        assert_eq!(
            serde_json::from_str::<Provider>("\"vmeg\"").unwrap(),
            Provider::Vmeg
        );
    }
}
