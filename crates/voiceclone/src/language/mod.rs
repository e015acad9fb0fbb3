//! Language values: BCP-47 tags (VMEG's own form, accepted for both providers) and JimmyAI's
//! English language names.
//!
//! JimmyAI's own page shows only an excerpt of its list (Chinese, Chinese,Yue, English,
//! Japanese, Korean, French, German, Spanish, ...). The full 24 + 16 list below comes from a
//! sister product with the same SoundClone API and is **UNCONFIRMED** for JimmyAI; so is the
//! v2-only flag. Values missing from a list are therefore not refused, only logged.
//!
//! BCP-47 -> JimmyAI mapping is by primary language subtag; region and script are dropped
//! (`en-GB` -> `English`, `zh-TW` -> `Chinese`). Cantonese (`yue`, `yue-*`, legacy `zh-yue`)
//! maps to `Chinese,Yue`; `zh-HK` is "Chinese as used in Hong Kong" and maps to `Chinese`:
//! write `yue-HK` to ask for Cantonese.

mod jimmyai;
mod vmeg;

pub(crate) use jimmyai::for_jimmyai;
pub use jimmyai::{JimmyAiLanguage, bcp47_to_jimmyai, jimmyai_languages};
pub use vmeg::vmeg_documented;
pub(crate) use vmeg::{vmeg_documented_target, vmeg_spelling};

/// Checks BCP-47 shape (no registry lookup): a 2-3 letter primary subtag (or `auto`), then
/// `-`-separated alphanumeric subtags of 1-8 characters. Returns the reason when malformed.
pub fn check_bcp47(tag: &str) -> Result<(), String> {
    if tag.is_empty() {
        return Err("is empty".into());
    }
    if tag.len() > 64 {
        return Err("is longer than 64 characters".into());
    }
    if tag.contains('_') {
        return Err(format!(
            "{tag:?} uses '_'; BCP-47 separates subtags with '-' (e.g. zh-CN)"
        ));
    }
    if tag.eq_ignore_ascii_case("auto") {
        return Ok(());
    }
    let mut parts = tag.split('-');
    let primary = parts.next().unwrap_or_default();
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(format!(
            "{tag:?} is not a BCP-47 tag: the language subtag must be 2-3 letters (e.g. en, zh, yue)"
        ));
    }
    for sub in parts {
        if sub.is_empty() || sub.len() > 8 || !sub.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(format!(
                "{tag:?} is not a BCP-47 tag: subtag {sub:?} must be 1-8 letters or digits"
            ));
        }
    }
    Ok(())
}

/// The primary language subtag, lowercased.
pub(crate) fn primary_subtag(tag: &str) -> String {
    tag.split('-')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bcp47_shape() {
        for ok in [
            "en",
            "en-US",
            "zh-CN-sichuan",
            "sr-Latn-RS",
            "yue",
            "fil-PH",
            "auto",
            "kmr-Arab",
        ] {
            assert!(check_bcp47(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "e",
            "english",
            "en_US",
            "en-",
            "en--US",
            "zh-CN-toolongsubtag",
            "en-U$",
            "中文",
            "12-US",
        ] {
            assert!(check_bcp47(bad).is_err(), "{bad}");
        }
    }
}
