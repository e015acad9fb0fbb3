//! VMEG's documented language tags.

/// VMEG's documented target list plus the source-only extras (`auto`, ...); case-insensitive.
pub fn vmeg_documented(tag: &str) -> bool {
    vmeg_spelling(tag).is_some()
}

/// The spelling VMEG's documented lists give `tag` (matched case-insensitively): `zh-CN`
/// for `ZH-cn`.
pub(crate) fn vmeg_spelling(tag: &str) -> Option<&'static str> {
    VMEG_LANGUAGES
        .iter()
        .find(|l| l.eq_ignore_ascii_case(tag))
        .copied()
}

/// VMEG's documented target list (TTS `language.target`) alone; case-insensitive.
pub(crate) fn vmeg_documented_target(tag: &str) -> bool {
    VMEG_LANGUAGES
        .get(..TARGETS)
        .unwrap_or(VMEG_LANGUAGES)
        .iter()
        .any(|l| l.eq_ignore_ascii_case(tag))
}

/// The target list is the first `TARGETS` entries; the source-only extras follow.
const TARGETS: usize = 153;

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
    fn vmeg_list() {
        assert!(vmeg_documented("zh-cn"));
        assert!(vmeg_documented("sr-Latn-RS"));
        assert!(!vmeg_documented("en-FR"));
        assert_eq!(VMEG_LANGUAGES.len(), 160);
        assert_eq!(VMEG_LANGUAGES.get(TARGETS - 1), Some(&"zu-ZA"));
        assert!(vmeg_documented_target("en-us"));
        for source_only in ["auto", "ar-IL", "ar-PS", "en-GH", "it-CH", "or-IN", "ur-PK"] {
            assert!(vmeg_documented(source_only), "{source_only}");
            assert!(!vmeg_documented_target(source_only), "{source_only}");
        }
    }
}
