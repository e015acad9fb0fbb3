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

/// A JimmyAI language name and whether it needs `soundVersion` v2 (UNCONFIRMED list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct JimmyAiLanguage {
    /// The wire value, e.g. `Chinese,Yue`.
    pub name: &'static str,
    /// Listed as v2-only (UNCONFIRMED).
    pub v2_only: bool,
}

const fn both(name: &'static str) -> JimmyAiLanguage {
    JimmyAiLanguage {
        name,
        v2_only: false,
    }
}

const fn v2(name: &'static str) -> JimmyAiLanguage {
    JimmyAiLanguage {
        name,
        v2_only: true,
    }
}

/// `(primary subtag, JimmyAI name)`. `auto` is JimmyAI's documented default.
const BCP47_TO_JIMMYAI: &[(&str, JimmyAiLanguage)] = &[
    ("auto", both("auto")),
    ("zh", both("Chinese")),
    ("cmn", both("Chinese")),
    ("yue", both("Chinese,Yue")),
    ("en", both("English")),
    ("ar", both("Arabic")),
    ("ru", both("Russian")),
    ("es", both("Spanish")),
    ("fr", both("French")),
    ("pt", both("Portuguese")),
    ("de", both("German")),
    ("tr", both("Turkish")),
    ("nl", both("Dutch")),
    ("uk", both("Ukrainian")),
    ("vi", both("Vietnamese")),
    ("id", both("Indonesian")),
    ("ja", both("Japanese")),
    ("it", both("Italian")),
    ("ko", both("Korean")),
    ("th", both("Thai")),
    ("pl", both("Polish")),
    ("ro", both("Romanian")),
    ("el", both("Greek")),
    ("cs", both("Czech")),
    ("fi", both("Finnish")),
    ("hi", both("Hindi")),
    ("bg", v2("Bulgarian")),
    ("da", v2("Danish")),
    ("he", v2("Hebrew")),
    ("iw", v2("Hebrew")),
    ("ms", v2("Malay")),
    ("fa", v2("Persian")),
    ("sk", v2("Slovak")),
    ("sv", v2("Swedish")),
    ("hr", v2("Croatian")),
    ("fil", v2("Filipino")),
    ("tl", v2("Filipino")),
    ("hu", v2("Hungarian")),
    ("no", v2("Norwegian")),
    ("nb", v2("Norwegian")),
    ("sl", v2("Slovenian")),
    ("ca", v2("Catalan")),
    ("nn", v2("Nynorsk")),
    ("ta", v2("Tamil")),
    ("af", v2("Afrikaans")),
];

/// Every JimmyAI name this crate knows (first entry per name in the table above).
pub fn jimmyai_languages() -> impl Iterator<Item = JimmyAiLanguage> {
    BCP47_TO_JIMMYAI
        .iter()
        .enumerate()
        .filter(|(i, (_, l))| {
            !BCP47_TO_JIMMYAI
                .iter()
                .take(*i)
                .any(|(_, e)| e.name == l.name)
        })
        .map(|(_, (_, l))| *l)
}

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

fn primary_subtag(tag: &str) -> String {
    tag.split('-')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The JimmyAI name for a BCP-47 tag, if this crate knows one.
pub fn bcp47_to_jimmyai(tag: &str) -> Option<JimmyAiLanguage> {
    check_bcp47(tag).ok()?;
    let lower = tag.to_ascii_lowercase();
    if lower == "zh-yue" || lower.starts_with("zh-yue-") {
        return Some(both("Chinese,Yue"));
    }
    let primary = primary_subtag(tag);
    BCP47_TO_JIMMYAI
        .iter()
        .find(|(p, _)| *p == primary)
        .map(|(_, l)| *l)
}

/// The outcome of reading a language value meant for JimmyAI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct JimmyAiChoice {
    pub(crate) wire: String,
    pub(crate) v2_only: bool,
    pub(crate) known: bool,
}

/// Accepts JimmyAI's own names (any case), BCP-47 tags with a known mapping, and other
/// name-shaped values (passed through, logged by the caller). Refuses malformed values and
/// tags with no known JimmyAI name.
pub(crate) fn for_jimmyai(value: &str) -> Result<JimmyAiChoice, String> {
    let v = value.trim();
    if v.is_empty() {
        return Err("is empty".into());
    }
    if let Some(l) = jimmyai_languages().find(|l| l.name.eq_ignore_ascii_case(v)) {
        return Ok(JimmyAiChoice {
            wire: l.name.to_owned(),
            v2_only: l.v2_only,
            known: true,
        });
    }
    if check_bcp47(v).is_ok() {
        return match bcp47_to_jimmyai(v) {
            Some(l) => Ok(JimmyAiChoice {
                wire: l.name.to_owned(),
                v2_only: l.v2_only,
                known: true,
            }),
            None => Err(format!(
                "no JimmyAI language name is known for {v:?}; pass JimmyAI's own English name (e.g. \"Swahili\") instead"
            )),
        };
    }
    let name_shaped = v.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && v.chars()
            .all(|c| c.is_ascii_alphabetic() || c == ',' || c == ' ')
        && v.len() <= 40;
    if name_shaped {
        return Ok(JimmyAiChoice {
            wire: v.to_owned(),
            v2_only: false,
            known: false,
        });
    }
    Err(format!(
        "{v:?} is neither a BCP-47 tag (e.g. en-US) nor a JimmyAI language name (e.g. English, Chinese,Yue)"
    ))
}

/// VMEG's documented target list plus the source-only extras (`auto`, ...); case-insensitive.
pub fn vmeg_documented(tag: &str) -> bool {
    VMEG_LANGUAGES.iter().any(|l| l.eq_ignore_ascii_case(tag))
}

const VMEG_LANGUAGES: &[&str] = &[
    "en-GB",
    "en-US",
    "es-ES",
    "fr-FR",
    "de-DE",
    "ja-JP",
    "ko-KR",
    "pt-PT",
    "zh-CN",
    "af-ZA",
    "sq-AL",
    "am-ET",
    "ar-AE",
    "ar-BH",
    "ar-DZ",
    "ar-EG",
    "ar-IQ",
    "ar-JO",
    "ar-KW",
    "ar-LB",
    "ar-LY",
    "ar-MA",
    "ar-OM",
    "ar-QA",
    "ar-SA",
    "ar-SY",
    "ar-TN",
    "ar-YE",
    "ar-XA",
    "az-AZ",
    "bg-BG",
    "bn-BD",
    "bn-IN",
    "bs-BA",
    "ca-ES",
    "cs-CZ",
    "cy-GB",
    "da-DK",
    "de-AT",
    "de-CH",
    "el-GR",
    "en-AU",
    "en-CA",
    "en-HK",
    "en-IE",
    "en-IN",
    "en-KE",
    "en-NG",
    "en-NZ",
    "en-PH",
    "en-SG",
    "en-TZ",
    "en-ZA",
    "es-AR",
    "es-BO",
    "es-CL",
    "es-CO",
    "es-CR",
    "es-CU",
    "es-DO",
    "es-EC",
    "es-GQ",
    "es-GT",
    "es-HN",
    "es-MX",
    "es-NI",
    "es-PA",
    "es-PE",
    "es-PR",
    "es-PY",
    "es-SV",
    "es-US",
    "es-UY",
    "es-VE",
    "et-EE",
    "eu-ES",
    "fa-IR",
    "fi-FI",
    "fil-PH",
    "fr-BE",
    "fr-CA",
    "fr-CH",
    "ga-IE",
    "gl-ES",
    "gu-IN",
    "he-IL",
    "ht-HT",
    "hi-IN",
    "hr-HR",
    "hu-HU",
    "hy-AM",
    "id-ID",
    "is-IS",
    "it-IT",
    "jv-ID",
    "ka-GE",
    "kk-KZ",
    "kmr-Arab",
    "kmr-Latn",
    "kmr-Cyrl",
    "km-KH",
    "kn-IN",
    "lo-LA",
    "lt-LT",
    "lv-LV",
    "mk-MK",
    "ml-IN",
    "mn-MN",
    "mr-IN",
    "ms-MY",
    "mt-MT",
    "my-MM",
    "nb-NO",
    "ne-NP",
    "nl-BE",
    "nl-NL",
    "pa-IN",
    "pl-PL",
    "ps-AF",
    "pt-BR",
    "ro-RO",
    "ru-RU",
    "si-LK",
    "sk-SK",
    "sl-SI",
    "so-SO",
    "sr-Latn-RS",
    "sv-SE",
    "sw-KE",
    "sw-TZ",
    "ta-IN",
    "te-IN",
    "bho-IN",
    "be-BY",
    "th-TH",
    "tr-TR",
    "uk-UA",
    "ur-IN",
    "uz-UZ",
    "vi-VN",
    "wuu-CN",
    "yue-CN",
    "nan-CN",
    "zh-CN-guangxi",
    "zh-CN-henan",
    "zh-CN-liaoning",
    "zh-CN-shaanxi",
    "zh-CN-shandong",
    "zh-CN-sichuan",
    "zh-HK",
    "zh-TW",
    "ug-CN",
    "zu-ZA", // target list (153)
    "auto",
    "ar-IL",
    "ar-PS",
    "en-GH",
    "it-CH",
    "or-IN",
    "ur-PK", // source-only extras
];

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

    #[test]
    fn jimmyai_mapping() {
        let name = |v: &str| for_jimmyai(v).map(|c| c.wire);
        assert_eq!(name("zh-CN").unwrap(), "Chinese");
        assert_eq!(name("zh").unwrap(), "Chinese");
        assert_eq!(name("zh-HK").unwrap(), "Chinese");
        assert_eq!(name("yue").unwrap(), "Chinese,Yue");
        assert_eq!(name("yue-HK").unwrap(), "Chinese,Yue");
        assert_eq!(name("zh-yue").unwrap(), "Chinese,Yue");
        assert_eq!(name("en-GB").unwrap(), "English");
        assert_eq!(name("ja").unwrap(), "Japanese");
        assert_eq!(name("Chinese,Yue").unwrap(), "Chinese,Yue");
        assert_eq!(name("english").unwrap(), "English");
        assert_eq!(name("auto").unwrap(), "auto");
        assert!(for_jimmyai("sv-SE").unwrap().v2_only);
        assert!(!for_jimmyai("fr").unwrap().v2_only);
        let passthrough = for_jimmyai("Swahili").unwrap();
        assert_eq!(
            (passthrough.wire.as_str(), passthrough.known),
            ("Swahili", false)
        );
        assert!(for_jimmyai("sw-KE").is_err());
        assert!(for_jimmyai("en_US").is_err());
        assert!(for_jimmyai("").is_err());
        assert_eq!(jimmyai_languages().count(), 41);
    }

    #[test]
    fn vmeg_list() {
        assert!(vmeg_documented("zh-cn"));
        assert!(vmeg_documented("sr-Latn-RS"));
        assert!(!vmeg_documented("en-FR"));
        assert_eq!(VMEG_LANGUAGES.len(), 160);
    }
}
