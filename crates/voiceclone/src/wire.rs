//! Lenient decoding helpers shared by the webhook and the provider modules: vendors disagree
//! with their own docs on whether numbers are numbers or strings.

use serde::{Deserialize, Deserializer};

#[derive(Deserialize)]
#[serde(untagged)]
enum NumOrString {
    Int(i64),
    Float(f64),
    Str(String),
    // Anything else (bool, object) is read as absent rather than failing the whole body.
    Other(serde::de::IgnoredAny),
}

/// An integer sent as a JSON number or a numeric string (`20000` or `"20000"`).
pub(crate) fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<NumOrString>::deserialize(d)? {
        Some(NumOrString::Int(i)) => Some(i),
        Some(NumOrString::Float(f)) if f.fract() == 0.0 && f.abs() < 9e15 => Some(f as i64),
        Some(NumOrString::Str(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// A number sent as a JSON number or a numeric string.
pub(crate) fn lenient_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let value: Option<f64> = match Option::<NumOrString>::deserialize(d)? {
        Some(NumOrString::Int(i)) => Some(i as f64),
        Some(NumOrString::Float(f)) => Some(f),
        Some(NumOrString::Str(s)) => s.trim().parse().ok(),
        _ => None,
    };
    Ok(value.filter(|f| f.is_finite()))
}

/// A string field that may also arrive as a number (ids) or be null.
pub(crate) fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<NumOrString>::deserialize(d)? {
        Some(NumOrString::Str(s)) => Some(s),
        Some(NumOrString::Int(i)) => Some(i.to_string()),
        Some(NumOrString::Float(f)) => Some(f.to_string()),
        _ => None,
    })
}

/// Parses a vendor URL, logging (not failing on) one that does not parse.
pub(crate) fn parse_url(field: &str, raw: Option<&str>) -> Option<url::Url> {
    let raw = raw?.trim();
    if raw.is_empty() {
        return None;
    }
    match url::Url::parse(raw) {
        Ok(u) => Some(u),
        Err(e) => {
            tracing::warn!(field, error = %e, "vendor sent a URL that does not parse; ignoring it");
            None
        }
    }
}
