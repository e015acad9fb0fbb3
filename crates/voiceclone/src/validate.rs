//! The documented constraints, checked before anything is sent. Every refusal is an
//! `InvalidInput` naming the request field (its builder method name).
//!
//! Lengths are counted in Unicode scalar values, as JimmyAI bills and limits them; JimmyAI's
//! `<#x#>` pause markers are not counted (its billing rule) but must be well-formed.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use crate::error::Error;
use crate::language;
use crate::model::{CloneRequest, Provider, SoundVersion, SpeechRequest, SubtitleMode};

/// JimmyAI preview script limit (`contentText` on clone create).
pub(crate) const JIMMYAI_PREVIEW_MAX_CHARS: usize = 270;
/// JimmyAI production text limit.
pub(crate) const JIMMYAI_AUDIO_MAX_CHARS: usize = 10_000;
/// VMEG TTS batch limit.
pub(crate) const VMEG_MAX_LINES: usize = 50;
/// VMEG idempotency key limit.
pub(crate) const IDEMPOTENCY_KEY_MAX_CHARS: usize = 64;

const JIMMYAI_EXTENSIONS: &[&str] = &[
    "mp3", "ogg", "wav", "m4a", "aac", "mp4", "avi", "mov", "mkv", "flv",
];

fn invalid(field: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::invalid_input(field, reason)
}

fn not_for(field: &str, provider: Provider) -> Error {
    let other = match provider {
        Provider::Vmeg => "JimmyAI",
        Provider::JimmyAi => "VMEG",
    };
    invalid(
        field,
        format!(
            "applies to {other} only and {provider} has no such setting; remove it (it is never silently dropped)"
        ),
    )
}

/// Refuses every field in `set` that is `true` (i.e. was set by the caller).
fn reject_foreign(provider: Provider, set: &[(&str, bool)]) -> Result<(), Error> {
    match set.iter().find(|(_, present)| *present) {
        Some((field, _)) => Err(not_for(field, provider)),
        None => Ok(()),
    }
}

/// Validates a clone request for `provider` and returns the parsed audio URL: its
/// serialization, not the caller's string, is what the request body carries, so the URL sent
/// is the URL checked. `allow_private` is `ClientBuilder::allow_private_urls` (a local
/// simulator's samples).
pub(crate) fn clone_request(
    req: &CloneRequest,
    provider: Provider,
    allow_private: bool,
) -> Result<Url, Error> {
    match provider {
        Provider::Vmeg => {
            reject_foreign(provider, &[("sound_version", req.sound_version.is_some())])?;
            if let Some(key) = &req.idempotency_key {
                idempotency_key(key)?;
            }
            if let Some(name) = &req.name {
                non_blank("name", name)?;
            }
            if let Some(text) = &req.sample_text {
                non_blank("sample_text", text)?;
            }
        }
        Provider::JimmyAi => {
            reject_foreign(
                provider,
                &[
                    ("name", req.name.is_some()),
                    ("vmeg_engine", req.vmeg_engine.is_some()),
                    ("synchronous", req.synchronous.is_some()),
                    ("idempotency_key", req.idempotency_key.is_some()),
                ],
            )?;
            if let Some(text) = &req.sample_text {
                jimmyai_text("sample_text", text, JIMMYAI_PREVIEW_MAX_CHARS)?;
            }
        }
    }
    let url = audio_url(&req.audio_url, provider, allow_private)?;
    if let Some(lang) = &req.language {
        language_value("language", lang, provider, req.sound_version)?;
    }
    Ok(url)
}

/// Validates a speech request for `provider`.
pub(crate) fn speech_request(req: &SpeechRequest, provider: Provider) -> Result<(), Error> {
    if req.lines.is_empty() {
        return Err(invalid("lines", "needs at least one line"));
    }
    match provider {
        Provider::Vmeg => {
            reject_foreign(
                provider,
                &[
                    ("speed", req.speed.is_some()),
                    ("volume", req.volume.is_some()),
                    ("pitch", req.pitch.is_some()),
                    ("emotion", req.emotion.is_some()),
                    (
                        "subtitles",
                        req.subtitles.is_some_and(|s| s != SubtitleMode::Off),
                    ),
                    ("sound_version", req.sound_version.is_some()),
                ],
            )?;
            if req.lines.len() > VMEG_MAX_LINES {
                return Err(invalid(
                    "lines",
                    format!(
                        "VMEG takes at most {VMEG_MAX_LINES} lines per call, got {}",
                        req.lines.len()
                    ),
                ));
            }
            for (i, line) in req.lines.iter().enumerate() {
                non_blank(&format!("lines[{i}].voice_id"), &line.voice_id)?;
                non_blank(&format!("lines[{i}].text"), &line.text)?;
            }
            if let Some(w) = req.emotion_weight
                && !(w.is_finite() && (0.0..=1.0).contains(&w))
            {
                return Err(invalid(
                    "emotion_weight",
                    format!("must be between 0 and 1, got {w}"),
                ));
            }
            if let Some(p) = &req.emotion_prompt {
                non_blank("emotion_prompt", p)?;
            }
            if let Some(key) = &req.idempotency_key {
                idempotency_key(key)?;
            }
        }
        Provider::JimmyAi => {
            reject_foreign(
                provider,
                &[
                    ("output_format", req.output_format.is_some()),
                    ("trim", req.trim.is_some()),
                    ("emotion_weight", req.emotion_weight.is_some()),
                    ("emotion_prompt", req.emotion_prompt.is_some()),
                    ("synchronous", req.synchronous.is_some()),
                    ("idempotency_key", req.idempotency_key.is_some()),
                ],
            )?;
            if req.lines.len() != 1 {
                return Err(invalid(
                    "lines",
                    format!(
                        "JimmyAI speaks one line per task, got {} (add_line is for VMEG batches)",
                        req.lines.len()
                    ),
                ));
            }
            for line in &req.lines {
                non_blank("voice_id", &line.voice_id)?;
                jimmyai_text("text", &line.text, JIMMYAI_AUDIO_MAX_CHARS)?;
            }
            if let Some(s) = req.speed
                && !(s.is_finite() && (0.5..=2.0).contains(&s))
            {
                return Err(invalid(
                    "speed",
                    format!("must be between 0.5 and 2, got {s}"),
                ));
            }
            if let Some(v) = req.volume
                && !(v.is_finite() && v > 0.0 && v <= 10.0)
            {
                return Err(invalid(
                    "volume",
                    format!("must be above 0 and at most 10, got {v}"),
                ));
            }
            if let Some(p) = req.pitch
                && !(-12..=12).contains(&p)
            {
                return Err(invalid(
                    "pitch",
                    format!("must be between -12 and 12, got {p}"),
                ));
            }
        }
    }
    if let Some(lang) = &req.language {
        language_value("language", lang, provider, req.sound_version)?;
    }
    Ok(())
}

pub(crate) fn non_blank(field: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty or blank"));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(())
}

/// Longest id accepted (bytes).
pub(crate) const ID_MAX_BYTES: usize = 256;

/// An id we put into a URL path segment, a query value or a body (job id, voice id). The
/// transport percent-encodes it as exactly one segment or value; this refuses what could still
/// change the request or be read differently by a server or proxy that decodes it once more:
/// dot segments (`.`, `..`) and their percent-encoded forms (`%2e%2e`, `.%2E`, ... at any
/// depth of encoding, also as IIS `%u002e`), also with a path parameter (`..;x`, which Tomcat
/// and Spring read as `..`; likewise an empty segment `;x`), `/` and `\` in any encoding
/// (`%2f`, `%5c`, `%252f`, `%u002f`), forms that do not decode to UTF-8 (overlong `%c0%ae`,
/// `%c0%af`, stray `%ff`), control characters (also encoded, e.g. `%00`, `%0d%0a`),
/// whitespace, `?`, `#`, and characters that display as nothing (zero-width, bidi controls,
/// the BOM: see [`is_invisible`]), which would make an id look blank or other than it is.
pub(crate) fn id(field: &str, value: &str) -> Result<(), Error> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > ID_MAX_BYTES {
        return Err(invalid(
            field,
            format!("must be at most {ID_MAX_BYTES} bytes, got {}", value.len()),
        ));
    }
    // The common id (`t-1`, `audio_<uuid>`, `cv_...`, digits): nothing to decode, nothing
    // that could split or climb a path; only a bare dot segment to refuse.
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    {
        return if value == "." || value == ".." {
            Err(invalid(
                field,
                "must not be a dot segment ('.' or '..', also percent-encoded or followed by ';') or start with ';'",
            ))
        } else {
            Ok(())
        };
    }
    if value.chars().any(|c| {
        c.is_control()
            || c.is_whitespace()
            || is_invisible(c)
            || matches!(c, '/' | '\\' | '?' | '#')
    }) {
        return Err(invalid(
            field,
            "must not contain whitespace, control or invisible characters, '/', '\\', '?' or '#'",
        ));
    }
    // Every form a server could see after decoding percent-escapes once, twice, ...
    let mut form = value.as_bytes().to_vec();
    loop {
        // A path parameter (`;...`) is dropped by some servers before the segment is read.
        let segment = form.split(|b| *b == b';').next().unwrap_or_default();
        if segment.is_empty() || segment == b"." || segment == b".." {
            return Err(invalid(
                field,
                "must not be a dot segment ('.' or '..', also percent-encoded or followed by ';') or start with ';'",
            ));
        }
        let Ok(text) = std::str::from_utf8(&form) else {
            return Err(invalid(
                field,
                "must decode to UTF-8 (no overlong or stray percent-encoded bytes such as %c0%ae or %ff)",
            ));
        };
        if text
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control() || is_invisible(c))
        {
            return Err(invalid(
                field,
                "must not contain a percent-encoded '/', '\\', control or invisible character (%2f, %5c, %00...)",
            ));
        }
        let decoded = percent_decode_once(&form);
        if decoded == form {
            return Ok(());
        }
        form = decoded;
    }
}

/// Characters that display as nothing or change how the text around them displays: Unicode's
/// default-ignorable code points (soft hyphen, zero-width spaces and joiners, bidi marks,
/// embeddings, overrides and isolates, the BOM, variation selectors, Hangul fillers, tag
/// characters, ...) and the interlinear annotation controls.
pub(crate) fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{34f}'
            | '\u{61c}'
            | '\u{115f}'..='\u{1160}'
            | '\u{17b4}'..='\u{17b5}'
            | '\u{180b}'..='\u{180f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{3164}'
            | '\u{fe00}'..='\u{fe0f}'
            | '\u{feff}'
            | '\u{ffa0}'
            | '\u{fff0}'..='\u{fffb}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0000}'..='\u{e0fff}'
    )
}

/// `bytes` with each `%XX` (two hex digits) replaced by its byte and each IIS-style `%uXXXX`
/// (four hex digits) by the UTF-8 of that character; anything else kept.
fn percent_decode_once(bytes: &[u8]) -> Vec<u8> {
    let hex = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%'
            && let [b'u' | b'U', a, b, c, d, after @ ..] = tail
            && let (Some(a), Some(b), Some(c), Some(d)) = (hex(*a), hex(*b), hex(*c), hex(*d))
        {
            let unit = u32::from(a) << 12 | u32::from(b) << 8 | u32::from(c) << 4 | u32::from(d);
            // A lone surrogate is no character: kept as a byte that is not UTF-8.
            match char::from_u32(unit) {
                Some(ch) => out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes()),
                None => out.push(0xff),
            }
            rest = after;
            continue;
        }
        if b == b'%'
            && let [h, l, after @ ..] = tail
            && let (Some(h), Some(l)) = (hex(*h), hex(*l))
        {
            out.push(h * 16 + l);
            rest = after;
            continue;
        }
        out.push(b);
        rest = tail;
    }
    out
}

/// VMEG `X-Idempotency-Key`: 1..=64 characters, not blank, printable ASCII (it is a header).
pub(crate) fn idempotency_key(key: &str) -> Result<(), Error> {
    let field = "idempotency_key";
    if key.trim().is_empty() {
        return Err(invalid(field, "must not be empty or blank"));
    }
    let n = key.chars().count();
    if n > IDEMPOTENCY_KEY_MAX_CHARS {
        return Err(invalid(
            field,
            format!("must be at most {IDEMPOTENCY_KEY_MAX_CHARS} characters, got {n}"),
        ));
    }
    if !key.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return Err(invalid(
            field,
            "must be printable ASCII (it travels in an HTTP header)",
        ));
    }
    Ok(())
}

/// JimmyAI text: not blank, well-formed pause markers, at most `max` characters not counting markers.
pub(crate) fn jimmyai_text(field: &str, text: &str, max: usize) -> Result<(), Error> {
    non_blank(field, text)?;
    let counted = count_without_pauses(text).map_err(|reason| invalid(field, reason))?;
    if counted > max {
        return Err(invalid(
            field,
            format!("must be at most {max} characters (pause markers not counted), got {counted}"),
        ));
    }
    Ok(())
}

/// Counts Unicode scalar values outside `<#x#>` markers; refuses malformed markers
/// (x in seconds, 0.01..=99.99, at most two decimals).
pub(crate) fn count_without_pauses(text: &str) -> Result<usize, String> {
    let mut count = 0usize;
    let mut rest = text;
    while let Some(start) = rest.find("<#") {
        count += rest.get(..start).map(|s| s.chars().count()).unwrap_or(0);
        let after = rest.get(start + 2..).unwrap_or_default();
        let Some(end) = after.find("#>") else {
            return Err("has a pause marker \"<#\" without its closing \"#>\"".into());
        };
        let inner = after.get(..end).unwrap_or_default();
        pause_value(inner)
            .map_err(|why| format!("has a malformed pause marker <#{inner}#>: {why}"))?;
        rest = after.get(end + 2..).unwrap_or_default();
    }
    Ok(count + rest.chars().count())
}

fn pause_value(inner: &str) -> Result<(), &'static str> {
    let (int, frac) = match inner.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (inner, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || int.len() > 2 {
        return Err("expected seconds such as 0.5 or 1.25");
    }
    if let Some(f) = frac
        && (!digits(f) || f.len() > 2)
    {
        return Err("at most two decimals");
    }
    let hundredths: u32 = format!("{int}{:0<2}", frac.unwrap_or(""))
        .parse()
        .map_err(|_| "not a number")?;
    if !(1..=9999).contains(&hundredths) {
        return Err("must be between 0.01 and 99.99 seconds");
    }
    Ok(())
}

/// Validates a reference-audio URL for `provider`.
pub(crate) fn audio_url(raw: &str, provider: Provider, allow_private: bool) -> Result<Url, Error> {
    let field = "audio_url";
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if provider == Provider::JimmyAi && !trimmed.is_ascii() {
        return Err(invalid(
            field,
            "JimmyAI refuses URLs with non-ASCII (e.g. Chinese) characters; percent-encode the path or upload the file with upload_sample",
        ));
    }
    let url = Url::parse(trimmed).map_err(|e| {
        invalid(
            field,
            format!("is not an absolute URL ({e}); local files go through upload_sample first"),
        )
    })?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            field,
            "must not carry credentials (user:password@); they would be handed to the provider",
        ));
    }
    let host = url.host().ok_or_else(|| invalid(field, "has no host"))?;
    let private = is_private_host(&host);
    if private && !allow_private {
        return Err(invalid(
            field,
            "points at a loopback or private address the provider cannot reach; use a public URL",
        ));
    }
    match (provider, url.scheme()) {
        (_, "https") => {}
        (Provider::JimmyAi, "http") => {}
        // Only a loopback simulator serves samples over plain http to VMEG.
        (Provider::Vmeg, "http") if private && allow_private => {}
        (Provider::Vmeg, scheme) => {
            return Err(invalid(
                field,
                format!("VMEG needs an https URL, got {scheme}:"),
            ));
        }
        (Provider::JimmyAi, scheme) => {
            return Err(invalid(
                field,
                format!("JimmyAI needs an http(s) URL, got {scheme}:"),
            ));
        }
    }
    if provider == Provider::JimmyAi {
        let last = url
            .path_segments()
            .and_then(|mut s| s.next_back())
            .unwrap_or_default();
        let ext = last
            .rsplit_once('.')
            .map(|(_, e)| e.to_ascii_lowercase())
            .unwrap_or_default();
        if !JIMMYAI_EXTENSIONS.contains(&ext.as_str()) {
            return Err(invalid(
                field,
                format!(
                    "JimmyAI needs a file ending in one of {} (query string ignored)",
                    JIMMYAI_EXTENSIONS.join(", ")
                ),
            ));
        }
    }
    Ok(url)
}

/// Name suffixes that never name a public host: special-use and private-use domains.
const PRIVATE_SUFFIXES: &[&str] = &[
    ".localhost",
    ".local",
    ".internal",
    ".home.arpa",
    ".arpa",
    ".lan",
    ".localdomain",
    ".intranet",
    ".corp",
    ".private",
];

/// True for every host a provider should not be asked to fetch from: loopback, private,
/// link-local, unique-local, site-local, multicast, reserved, documentation, benchmarking and
/// metadata addresses, in every IPv4 and IPv6 spelling that reaches them (IPv4-mapped,
/// -compatible and -translated IPv6, NAT64, 6to4), single-label names (`http://intranet/`),
/// `localhost` and its subdomains, and special-use suffixes (`.internal`, `.local`, ...).
///
/// Numeric IPv4 spellings (`2130706433`, `0x7f.1`, `0177.0.0.1`) arrive here already as
/// `Host::Ipv4`: the `url` crate normalizes them while parsing. Names are not resolved: a
/// public name that resolves to a private address is the provider's fetcher to refuse.
pub(crate) fn is_private_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            // Every trailing dot: the `url` crate keeps `127.0.0.1..` and `localhost..` as
            // names (only one trailing dot makes an IPv4 literal), and a resolver may not.
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if let Ok(Host::Ipv4(ip)) = Host::parse(&d) {
                return is_private_v4(ip);
            }
            !d.contains('.') || d == "localhost" || PRIVATE_SUFFIXES.iter().any(|s| d.ends_with(s))
        }
        Host::Ipv4(ip) => is_private_v4(*ip),
        Host::Ipv6(ip) => is_private_v6(*ip),
    }
}

/// True for hosts a plain-HTTP base URL may name: a loopback IP literal (127/8, ::1, or
/// 127/8 mapped into IPv6) or exactly `localhost`; not `*.localhost`, not `localhost.`.
pub(crate) fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// IPv4 special-purpose ranges (IANA registry; RFC 6890 and successors).
fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network" 0/8
        || a == 10 // private 10/8
        || (a == 100 && (64..128).contains(&b)) // shared (CGNAT) 100.64/10, incl. 100.100.100.200 metadata
        || a == 127 // loopback 127/8
        || (a == 169 && b == 254) // link-local 169.254/16, incl. 169.254.169.254 metadata
        || (a == 172 && (16..32).contains(&b)) // private 172.16/12
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1 192.0.2/24
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast 192.88.99/24
        || (a == 192 && b == 168) // private 192.168/16
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2 198.51.100/24
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3 203.0.113/24
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast 255.255.255.255
}

/// IPv6 special-purpose ranges, and the IPv4 address inside every form that embeds one.
fn is_private_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let [s0, s1, s2, s3, s4, s5, ..] = seg;
    let low_v4 = {
        let [.., a, b, c, d] = ip.octets();
        Ipv4Addr::new(a, b, c, d)
    };
    if s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0 {
        return match (s4, s5) {
            // IPv4-mapped ::ffff:a.b.c.d: reaches a.b.c.d.
            (0, 0xffff) => is_private_v4(low_v4),
            // IPv4-translated ::ffff:0:a.b.c.d (SIIT): reaches a.b.c.d.
            (0xffff, 0) => is_private_v4(low_v4),
            // ::/96: unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d,
            // refused whatever they embed.
            (0, 0) => true,
            _ => false,
        };
    }
    // NAT64 well-known prefix 64:ff9b::/96 reaches its embedded IPv4 address.
    if (s0, s1, s2, s3, s4, s5) == (0x64, 0xff9b, 0, 0, 0, 0) {
        return is_private_v4(low_v4);
    }
    // 6to4 2002::/16 embeds the IPv4 address in bits 16..48.
    if s0 == 0x2002 {
        let [h, l] = [s1.to_be_bytes(), s2.to_be_bytes()];
        let [a, b] = h;
        let [c, d] = l;
        return is_private_v4(Ipv4Addr::new(a, b, c, d));
    }
    (s0 == 0x64 && s1 == 0xff9b && s2 == 1) // NAT64 local-use 64:ff9b:1::/48
        || (s0 == 0x100 && s1 == 0 && s2 == 0 && s3 == 0) // discard-only 100::/64
        || (s0 == 0x2001 && s1 < 0x200) // IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID)
        || (s0 == 0x2001 && s1 == 0xdb8) // documentation 2001:db8::/32
        || (s0 == 0x3fff && s1 < 0x1000) // documentation 3fff::/20
        || s0 == 0x5f00 // SRv6 SIDs 5f00::/16
        || (s0 & 0xfe00) == 0xfc00 // unique-local fc00::/7 (incl. fd00:ec2::254 metadata)
        || (s0 & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s0 & 0xffc0) == 0xfec0 // site-local fec0::/10
        || (s0 & 0xff00) == 0xff00 // multicast ff00::/8
}

/// Checks a language value and returns what goes on the wire: the tag itself for VMEG, the
/// JimmyAI name for JimmyAI. Well-formed values missing from the documented lists pass with
/// a warning (the lists are incomplete).
pub(crate) fn language_value(
    field: &str,
    value: &str,
    provider: Provider,
    version: Option<SoundVersion>,
) -> Result<String, Error> {
    let v = value.trim();
    match provider {
        Provider::Vmeg => {
            language::check_bcp47(v).map_err(|reason| {
                invalid(
                    field,
                    format!("{reason}; VMEG takes BCP-47 tags such as zh-CN or en-US"),
                )
            })?;
            if !language::vmeg_documented(v) {
                tracing::warn!(
                    language = v,
                    "language tag not in VMEG's documented lists; sending it anyway"
                );
            }
            Ok(v.to_owned())
        }
        Provider::JimmyAi => {
            let choice = language::for_jimmyai(v).map_err(|reason| invalid(field, reason))?;
            if !choice.known {
                tracing::warn!(
                    language = v,
                    "not a JimmyAI language name this crate knows; sending it as given"
                );
            }
            if choice.v2_only && version != Some(SoundVersion::V2) {
                tracing::warn!(
                    language = %choice.wire,
                    "this language is listed (UNCONFIRMED) as needing soundVersion v2; consider .sound_version(SoundVersion::V2)"
                );
            }
            Ok(choice.wire)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::error::ErrorKind;
    use crate::model::{Emotion, OutputFormat, VmegEngine};

    fn field_of(r: Result<impl std::fmt::Debug, Error>) -> String {
        match r.unwrap_err().kind() {
            ErrorKind::InvalidInput { field, .. } => field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn audio_urls() {
        use Provider::*;
        let ok = [
            ("https://cdn.example.com/a.wav", Vmeg),
            ("https://cdn.example.com/a", Vmeg),
            ("http://cdn.example.com/a.MP3?sig=1#x", JimmyAi),
            ("https://cdn.example.com/dir/v.mkv", JimmyAi),
        ];
        for (u, p) in ok {
            assert!(audio_url(u, p, false).is_ok(), "{u}");
        }
        let bad = [
            ("http://cdn.example.com/a.wav", Vmeg),
            ("ftp://cdn.example.com/a.wav", JimmyAi),
            ("https://cdn.example.com/a.flac", JimmyAi),
            ("https://cdn.example.com/a.wav.txt?x=.wav", JimmyAi),
            ("https://cdn.example.com/声音.wav", JimmyAi),
            ("https://127.0.0.1/a.wav", Vmeg),
            ("https://localhost/a.wav", JimmyAi),
            ("https://10.1.2.3/a.wav", JimmyAi),
            ("https://192.168.1.1/a.wav", JimmyAi),
            ("https://[::1]/a.wav", JimmyAi),
            ("https://[fd00::1]/a.wav", JimmyAi),
            ("https://169.254.169.254/a.wav", JimmyAi),
            ("https://user:pw@cdn.example.com/a.wav", Vmeg),
            ("/tmp/a.wav", JimmyAi),
            ("", Vmeg),
        ];
        for (u, p) in bad {
            assert_eq!(field_of(audio_url(u, p, false)), "audio_url", "{u}");
        }
        assert!(audio_url("http://127.0.0.1:8080/a.wav", Vmeg, true).is_ok());
        assert!(audio_url("http://localhost/a.wav", JimmyAi, true).is_ok());
        assert!(audio_url("http://cdn.example.com/a.wav", Vmeg, true).is_err());
    }

    #[test]
    fn pause_markers() {
        assert_eq!(count_without_pauses("ab<#0.5#>cd").unwrap(), 4);
        assert_eq!(
            count_without_pauses("你好<#1.25#>世界<#99.99#><#0.01#>").unwrap(),
            4
        );
        assert_eq!(count_without_pauses("no markers é").unwrap(), 12);
        for bad in [
            "a<#0#>b",
            "a<#100#>",
            "a<#1.234#>",
            "a<#.5#>",
            "a<#x#>",
            "a<#1.#>",
            "a<#0.5",
            "<##>",
            "<#-1#>",
            "<#0.00#>",
        ] {
            assert!(count_without_pauses(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jimmyai_text_limits_count_scalar_values() {
        assert!(jimmyai_text("t", &"字".repeat(270), 270).is_ok());
        assert!(jimmyai_text("t", &format!("{}<#1#>", "字".repeat(270)), 270).is_ok());
        assert_eq!(
            field_of(jimmyai_text("sample_text", &"字".repeat(271), 270)),
            "sample_text"
        );
        assert!(jimmyai_text("t", "  ", 270).is_err());
    }

    #[test]
    fn idempotency_keys() {
        assert!(idempotency_key("k").is_ok());
        assert!(idempotency_key(&"k".repeat(64)).is_ok());
        for bad in ["", "   ", &"k".repeat(65), "ключ", "a\nb"] {
            assert_eq!(field_of(idempotency_key(bad)), "idempotency_key", "{bad:?}");
        }
    }

    #[test]
    fn clone_fields_are_never_silently_dropped() {
        let base = || CloneRequest::new("https://cdn.example.com/a.wav");
        assert!(
            clone_request(
                &base()
                    .name("n")
                    .vmeg_engine(VmegEngine::V1)
                    .synchronous(true),
                Provider::Vmeg,
                false
            )
            .is_ok()
        );
        assert!(
            clone_request(
                &base()
                    .sound_version(SoundVersion::V2)
                    .language("Chinese,Yue"),
                Provider::JimmyAi,
                false
            )
            .is_ok()
        );
        assert_eq!(
            field_of(clone_request(
                &base().sound_version(SoundVersion::V2),
                Provider::Vmeg,
                false
            )),
            "sound_version"
        );
        assert_eq!(
            field_of(clone_request(&base().name("n"), Provider::JimmyAi, false)),
            "name"
        );
        assert_eq!(
            field_of(clone_request(
                &base().vmeg_engine(VmegEngine::V2),
                Provider::JimmyAi,
                false
            )),
            "vmeg_engine"
        );
        assert_eq!(
            field_of(clone_request(
                &base().synchronous(false),
                Provider::JimmyAi,
                false
            )),
            "synchronous"
        );
        assert_eq!(
            field_of(clone_request(
                &base().idempotency_key("k"),
                Provider::JimmyAi,
                false
            )),
            "idempotency_key"
        );
        assert_eq!(
            field_of(clone_request(
                &base().language("zh_CN"),
                Provider::Vmeg,
                false
            )),
            "language"
        );
        assert_eq!(
            field_of(clone_request(
                &base().language("Chinese"),
                Provider::Vmeg,
                false
            )),
            "language"
        );
        assert!(
            clone_request(&base().language("xx-YY"), Provider::Vmeg, false).is_ok(),
            "well-formed but undocumented passes"
        );
        assert_eq!(
            field_of(clone_request(
                &base().sample_text("x".repeat(271)),
                Provider::JimmyAi,
                false
            )),
            "sample_text"
        );
    }

    #[test]
    fn speech_ranges_and_batches() {
        let j = || SpeechRequest::new("m-1", "hello");
        assert!(
            speech_request(
                &j().speed(0.5)
                    .volume(10.0)
                    .pitch(-12)
                    .emotion(Emotion::Sad)
                    .subtitles(SubtitleMode::Word),
                Provider::JimmyAi
            )
            .is_ok()
        );
        assert_eq!(
            field_of(speech_request(&j().speed(2.01), Provider::JimmyAi)),
            "speed"
        );
        assert_eq!(
            field_of(speech_request(&j().speed(f64::NAN), Provider::JimmyAi)),
            "speed"
        );
        assert_eq!(
            field_of(speech_request(&j().volume(0.0), Provider::JimmyAi)),
            "volume"
        );
        assert_eq!(
            field_of(speech_request(&j().pitch(13), Provider::JimmyAi)),
            "pitch"
        );
        assert_eq!(
            field_of(speech_request(&j().add_line("m-1", "x"), Provider::JimmyAi)),
            "lines"
        );
        assert_eq!(
            field_of(speech_request(
                &j().output_format(OutputFormat::Mp3),
                Provider::JimmyAi
            )),
            "output_format"
        );
        assert_eq!(
            field_of(speech_request(
                &SpeechRequest::new("m", "a<#0#>"),
                Provider::JimmyAi
            )),
            "text"
        );
        assert_eq!(
            field_of(speech_request(
                &SpeechRequest::new("m", "字".repeat(10_001)),
                Provider::JimmyAi
            )),
            "text"
        );

        let v = || SpeechRequest::new("cv_1", "hello");
        assert!(
            speech_request(
                &v().emotion_weight(1.0)
                    .trim(true)
                    .output_format(OutputFormat::Wav),
                Provider::Vmeg
            )
            .is_ok()
        );
        assert_eq!(
            field_of(speech_request(&v().emotion_weight(1.5), Provider::Vmeg)),
            "emotion_weight"
        );
        assert_eq!(
            field_of(speech_request(&v().pitch(1), Provider::Vmeg)),
            "pitch"
        );
        assert_eq!(
            field_of(speech_request(&v().add_line("cv_1", "  "), Provider::Vmeg)),
            "lines[1].text"
        );
        let mut fifty = v();
        for _ in 1..50 {
            fifty = fifty.add_line("cv_1", "x");
        }
        assert!(speech_request(&fifty, Provider::Vmeg).is_ok());
        assert_eq!(
            field_of(speech_request(&fifty.add_line("cv_1", "x"), Provider::Vmeg)),
            "lines"
        );
    }

    #[test]
    fn language_wire_values() {
        assert_eq!(
            language_value("language", "yue", Provider::JimmyAi, None).unwrap(),
            "Chinese,Yue"
        );
        assert_eq!(
            language_value("language", "en-US", Provider::Vmeg, None).unwrap(),
            "en-US"
        );
    }

    #[test]
    fn ids_refuse_dot_segments_separators_and_controls_in_any_encoding() {
        for ok in [
            "t1", "task-1", "a%b", "100%", "a+b", "a&b=c", "é声", "x.y", "...", "%41", "a%2",
            "a;b", "..x;", "%u", "%u12", "%u0041", "%c3%a9",
        ] {
            assert!(id("job_id", ok).is_ok(), "{ok:?}");
        }
        for bad in [
            "",
            " ",
            ".",
            "..",
            "%2e",
            "%2E%2e",
            ".%2e",
            "%2e.",
            "%252e%252e",
            "a/b",
            "a%2fb",
            "a%2Fb",
            "a%252Fb",
            "a\\b",
            "a%5cb",
            "a%5C",
            "a\0b",
            "%00",
            "a%0d%0ab",
            "a\u{1b}b",
            "a\u{7f}",
            "a\u{85}",
            "%c2%85",
            "a b",
            "a?b",
            "a#b",
            // Path parameters (Tomcat, Spring), IIS %u, overlong and stray UTF-8 bytes.
            "..;",
            "..;jsessionid=1",
            ".;x",
            ";x",
            "%2e%2e;",
            "%3b",
            "%u002e%u002e",
            "%U002E.",
            "a%u002fb",
            "a%u005cb",
            "%u0000",
            "%ud800",
            "%c0%ae%c0%ae",
            "%c0%af",
            "%e0%80%ae",
            "a%ffb",
            // Invisible: an id that looks blank, or other than it is.
            "\u{200b}",
            "a\u{200d}b",
            "t-1\u{202e}",
            "\u{feff}t",
            "a%e2%80%8bb",
            "t\u{e0041}",
        ] {
            assert_eq!(field_of(id("job_id", bad)), "job_id", "{bad:?}");
        }
        assert!(id("voice_id", &"a".repeat(ID_MAX_BYTES)).is_ok());
        assert_eq!(
            field_of(id("voice_id", &"a".repeat(ID_MAX_BYTES + 1))),
            "voice_id"
        );
    }

    /// Every special-purpose range, by its first, an inner and (where it matters) its last
    /// address; numeric IPv4 spellings the `url` crate normalizes; and public neighbours.
    #[test]
    fn private_hosts_every_range() {
        let refused = [
            // IPv4 special-purpose ranges.
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.0.192",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.0.1",
            "192.168.255.255",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "254.1.1.1",
            "255.255.255.255",
            // Numeric forms the url crate turns into Host::Ipv4.
            "2130706433",
            "0x7f.1",
            "0x7f000001",
            "0177.0.0.1",
            "127.1",
            "017700000001",
            "0xa9fea9fe",
            "0xA9.0xFE.0xA9.0xFE",
            "0",
            "10.1",
            // IPv6: loopback, unspecified, mapped / compatible / translated IPv4.
            "[::1]",
            "[::]",
            "[0:0:0:0:0:0:0:1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[::ffff:169.254.169.254]",
            "[::ffff:10.0.0.1]",
            "[::127.0.0.1]",
            "[::a9fe:a9fe]",
            "[::8.8.8.8]",
            "[::ffff:0:127.0.0.1]",
            "[::ffff:0:a00:1]",
            // NAT64 (well-known prefix with a private IPv4, local-use prefix), 6to4.
            "[64:ff9b::127.0.0.1]",
            "[64:ff9b::a9fe:a9fe]",
            "[64:ff9b::10.0.0.1]",
            "[64:ff9b:1::808:808]",
            "[64:ff9b:1:ffff::1]",
            "[2002:7f00:1::]",
            "[2002:a9fe:a9fe::1]",
            "[2002:c0a8:101::1]",
            "[2002:a00:1::]",
            // Unique-local, link-local, site-local, multicast, documentation, discard,
            // IETF protocol assignments (Teredo, benchmarking, ORCHID), SRv6.
            "[fc00::1]",
            "[fd00:ec2::254]",
            "[fdff:ffff::1]",
            "[fe80::1]",
            "[febf::1]",
            "[fec0::1]",
            "[feff::1]",
            "[ff02::1]",
            "[ff05::1:3]",
            "[ff0e::1]",
            "[2001:db8::1]",
            "[2001:db8:ffff:ffff::1]",
            "[100::1]",
            "[2001::1]",
            "[2001:2::1]",
            "[2001:10::1]",
            "[2001:1ff::1]",
            "[3fff::1]",
            "[3fff:fff:ffff::1]",
            "[5f00::1]",
            // Names.
            "localhost",
            "LOCALHOST",
            "localhost.",
            "api.localhost",
            "intranet",
            "intranet.",
            "metadata",
            "metadata.google.internal",
            "metadata.azure.internal",
            "printer.local",
            "nas.home.arpa",
            "host.lan",
            "box.localdomain",
            "1.0.0.127.in-addr.arpa",
            // More than one trailing dot: still names to the `url` crate.
            "localhost..",
            "127.0.0.1..",
            "10.0.0.1...",
            "0x7f.1..",
            "api.localhost..",
            "intranet..",
            "metadata.google.internal..",
            // IDNA maps these to the names above.
            "ｌｏｃａｌｈｏｓｔ",
            "localhost。",
            "127。0。0。1",
        ];
        for host in refused {
            let url = format!("https://{host}/a.wav");
            assert_eq!(
                field_of(audio_url(&url, Provider::Vmeg, false)),
                "audio_url",
                "{host}"
            );
            assert!(
                audio_url(&url, Provider::Vmeg, true).is_ok(),
                "{host} opted in"
            );
        }
        let allowed = [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.1.1",
            "169.255.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.0.3.1",
            "192.88.98.1",
            "192.167.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "198.51.99.1",
            "203.0.112.1",
            "223.255.255.255",
            "[2606:4700::1]",
            "[2001:4860:4860::8888]",
            "[2a00:1450:4001::1]",
            "[64:ff9b::808:808]",
            "[64:ff9b::8.8.8.8]",
            "[2002:808:808::1]",
            "[::ffff:8.8.8.8]",
            "[2001:200::1]",
            "cdn.example.com",
            "a.b.example.co.uk",
            "localhost.example.com",
            "xn--nxasmq6b.com",
        ];
        for host in allowed {
            let url = format!("https://{host}/a.wav");
            assert!(audio_url(&url, Provider::Vmeg, false).is_ok(), "{host}");
        }
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_host(&Host::Domain("localhost")));
        assert!(is_loopback_host(&Host::Ipv4(Ipv4Addr::new(127, 0, 0, 2))));
        assert!(!is_loopback_host(&Host::Ipv4(Ipv4Addr::new(10, 0, 0, 1))));
        assert!(is_private_host(&Host::Ipv4(Ipv4Addr::new(100, 64, 0, 1))));
        assert!(!is_private_host(&Host::Ipv4(Ipv4Addr::new(8, 8, 8, 8))));
    }
}
