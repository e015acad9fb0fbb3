//! JimmyAI's language names (UNCONFIRMED list, see the module docs above) and the mapping
//! from BCP-47 tags.

use super::{check_bcp47, primary_subtag};

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
    // A short English name ("Lao", "Ewe") is BCP-47-shaped too: title case of three letters
    // or more, with no tag mapping, passes on as a name below.
    let title_case = v.len() >= 3
        && v.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && v.chars().skip(1).all(|c| c.is_ascii_lowercase());
    if check_bcp47(v).is_ok() && !(title_case && bcp47_to_jimmyai(v).is_none()) {
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
    // Its start only: a caller's 10 MB value must not become a 10 MB error (and log line).
    Err(format!(
        "{:?} is neither a BCP-47 tag (e.g. en-US) nor a JimmyAI language name (e.g. English, Chinese,Yue)",
        crate::model::Excerpt::of(v)
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_huge_value_is_not_quoted_whole() {
        let huge = "x".repeat(1_000_000);
        let reason = for_jimmyai(&huge).err().unwrap();
        assert!(reason.len() < 300, "{}", reason.len());
        assert!(reason.contains("\"…"), "{reason}");
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
        // Short English names look like tags: passed on as names, not refused.
        for short in ["Lao", "Ewe"] {
            let c = for_jimmyai(short).unwrap();
            assert_eq!((c.wire.as_str(), c.known), (short, false), "{short}");
        }
        // A tag in title case with a mapping is still read as the tag.
        assert_eq!(name("Yue").unwrap(), "Chinese,Yue");
        assert!(for_jimmyai("xq").is_err());
        assert!(for_jimmyai("en_US").is_err());
        assert!(for_jimmyai("").is_err());
        assert_eq!(jimmyai_languages().count(), 41);
    }
}
