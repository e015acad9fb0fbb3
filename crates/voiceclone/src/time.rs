//! Date handling: the vendors send ISO 8601 strings and Unix timestamps, `Retry-After`
//! delays, and errors print submit times. The calendar is `humantime`'s (RFC 3339, years 1970
//! to 9999): small, where a full date library cost every user's build ~8 s of CPU
//! (BENCHMARKS.md 10). What is here is only how lenient to be with vendors, and the UTC
//! offset, which humantime leaves to its caller.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn from_unix_secs_f(secs: i64, nanos: u32) -> Option<SystemTime> {
    if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(u64::try_from(secs).ok()?, nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(u64::from(nanos)))
    }
}

/// A Unix timestamp of unknown unit, read by its size (JimmyAI's `created` looks like
/// seconds, VMEG's webhook time is milliseconds): 10 digits are seconds, 13 milliseconds, 16
/// microseconds, 19 nanoseconds (each covering 2001 to 2286). Anything else (0, a negative
/// number, an 11-digit value that could be either) is no time at all: a `created` of 0 read
/// as 1970 would mark a new JimmyAI model as expired for ever, and a time in microseconds
/// read as milliseconds would put it in the year 58,000.
pub(crate) fn from_unix_guess(value: i64) -> Option<SystemTime> {
    let (per_sec, value) = match value {
        1_000_000_000..=9_999_999_999 => (1, value),
        1_000_000_000_000..=9_999_999_999_999 => (1_000, value),
        1_000_000_000_000_000..=9_999_999_999_999_999 => (1_000_000, value),
        1_000_000_000_000_000_000..=i64::MAX => (1_000_000_000, value),
        _ => return None,
    };
    let secs = value.div_euclid(per_sec);
    let frac = u64::try_from(value.rem_euclid(per_sec)).ok()?;
    let nanos = u32::try_from(frac.saturating_mul(1_000_000_000 / per_sec.unsigned_abs())).ok()?;
    from_unix_secs_f(secs, nanos)
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The westernmost UTC offset in use (UTC-12:00, Baker Island), in seconds.
const MIN_OFFSET_SECS: i64 = -12 * 3600;
/// The easternmost UTC offset in use (UTC+14:00, Line Islands), in seconds.
const MAX_OFFSET_SECS: i64 = 14 * 3600;

/// Parses `YYYY-MM-DD[T ]HH:MM:SS[.frac][Z|±HH:MM]`. A missing offset is read as UTC, which is
/// the best guess for a server timestamp; `None` for anything else, for a date before 1970
/// (no vendor sends one: such a field reads as absent), and for an offset no zone uses
/// (west of -12:00, east of +14:00).
pub(crate) fn parse_iso8601(input: &str) -> Option<SystemTime> {
    parse_iso8601_zoned(input).map(|(at, _)| at)
}

/// [`parse_iso8601`], and whether the text gave its UTC offset (`Z` or `±HH:MM`): without
/// one the time was read as UTC, and may be off by the sender's zone (up to 14 h either way).
pub(crate) fn parse_iso8601_zoned(input: &str) -> Option<(SystemTime, bool)> {
    let s = input.trim();
    let date = s.get(0..10)?;
    let sep = s.get(10..11)?;
    if !(sep == "T" || sep == "t" || sep == " ") {
        return None;
    }
    let rest = s.get(11..)?;
    let mut parts = date.split('-');
    let y = i64::from(digits(parts.next()?)?);
    let mo = digits(parts.next()?)?;
    let d = digits(parts.next()?)?;
    if parts.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let h = digits(rest.get(0..2)?)?;
    if rest.get(2..3)? != ":" {
        return None;
    }
    let mi = digits(rest.get(3..5)?)?;
    if rest.get(5..6)? != ":" {
        return None;
    }
    let se = digits(rest.get(6..8)?)?;
    if h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut tail = rest.get(8..)?;
    let mut nanos: u32 = 0;
    if let Some(frac) = tail.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        let frac_digits = frac.get(..n)?;
        let mut scaled = String::from(frac_digits.get(..n.min(9))?);
        while scaled.len() < 9 {
            scaled.push('0');
        }
        nanos = digits(&scaled)?;
        tail = frac.get(n..)?;
    }
    let zoned = !tail.is_empty();
    let offset_secs: i64 = match tail {
        "" | "Z" | "z" => 0,
        t => {
            let sign = match t.get(0..1)? {
                "+" => 1,
                "-" => -1,
                _ => return None,
            };
            let body = t.get(1..)?;
            let (oh, om) = match body.len() {
                5 if body.get(2..3)? == ":" => (digits(body.get(0..2)?)?, digits(body.get(3..5)?)?),
                4 => (digits(body.get(0..2)?)?, digits(body.get(2..4)?)?),
                2 => (digits(body)?, 0),
                _ => return None,
            };
            if om > 59 {
                return None;
            }
            let offset = sign * (i64::from(oh) * 3600 + i64::from(om) * 60);
            // The zones in use run from UTC-12:00 to UTC+14:00 (`UNKNOWN_OFFSET_SPAN`). A
            // time with an offset outside them is no time: taken as zoned it would be moved
            // by up to a day, and reconcile trusts a zoned time's window, so a `+20:00`
            // would put the task out of it (`Reconciled::None`, a resubmit, a second bill).
            // As no time, the task may have been created at any time and stays a candidate.
            if !(MIN_OFFSET_SECS..=MAX_OFFSET_SECS).contains(&offset) {
                return None;
            }
            offset
        }
    };
    // The civil time in its canonical form, for the calendar to check (a 29 February only in
    // leap years, days per month) and count; a leap second (`:60`) is read as `:59`.
    let civil = format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{se:02}Z",
        se = se.min(59)
    );
    let local = humantime::parse_rfc3339(&civil)
        .ok()?
        .checked_add(Duration::from_nanos(u64::from(nanos)))?;
    // The civil time is `offset` ahead of UTC.
    let shift = Duration::from_secs(offset_secs.unsigned_abs());
    let at = if offset_secs >= 0 {
        local.checked_sub(shift)
    } else {
        local.checked_add(shift)
    }?;
    Some((at, zoned))
}

/// `Retry-After` as delta-seconds (whole, or with a fraction).
///
/// The HTTP-date form RFC 9110 also allows is read as no `Retry-After`, so the retry waits
/// on its own (bounded) backoff: VMEG documents `Retry-After: 2` (api-facts A3) and JimmyAI
/// none, so a date could only come from a proxy or a storage CDN (downloads, uploads to
/// signed URLs); honouring it would cost every user's build one more crate (`httpdate`;
/// issue 17 counts them) for a form no vendor sends.
pub(crate) fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    // A number too large for its type is a very long wait, not no wait: read as absent, it
    // would let the retries go ahead at once against a server that asked for a pause.
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(v.parse::<u64>().unwrap_or(u64::MAX)));
    }
    // Fractions and exponents are read as JSON numbers are (serde_json's parser; see
    // `client_glue::wire::parse_f64`).
    if let Some(secs) = client_glue::wire::parse_f64(v) {
        if secs.is_nan() || secs < 0.0 {
            return None;
        }
        return Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
    }
    // A well-formed number `f64` cannot hold (`1e400`) is a very long wait too; anything else
    // (`inf`, a date, words) is no `Retry-After`.
    let well_formed = serde_json::from_slice::<serde::de::IgnoredAny>(v.as_bytes()).is_ok();
    (well_formed && v.starts_with(|c: char| c.is_ascii_digit())).then_some(Duration::MAX)
}

/// The longest wait an answer's `Retry-After` headers ask for: every header, each split on
/// commas (a proxy that merges duplicate headers folds them into one list), each value read by
/// [`parse_retry_after`]. A CDN's `Retry-After: 0` ahead of the origin's `60` is still a pause
/// of 60 s (review 34-d #5).
pub(crate) fn retry_after_of(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get_all(reqwest::header::RETRY_AFTER)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(parse_retry_after)
        .max()
}

/// RFC 3339 in UTC with millisecond precision, for messages meant for people.
pub(crate) fn format_rfc3339(t: SystemTime) -> String {
    // humantime writes years 1970 to 9999 (it panics before and fails after); a time outside
    // them comes only from a clock set wrong, and is said as it is.
    const YEAR_10000: Duration = Duration::from_secs(253_402_300_800);
    match t.duration_since(UNIX_EPOCH) {
        Ok(since) if since < YEAR_10000 => humantime::format_rfc3339_millis(t).to_string(),
        Ok(since) => format!("{} s after 1970-01-01T00:00:00Z", since.as_secs()),
        Err(e) => format!(
            "{} s before 1970-01-01T00:00:00Z",
            e.duration().as_secs_f64()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unix(t: SystemTime) -> i64 {
        t.duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(-1)
    }

    #[test]
    fn iso8601_variants() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z").map(unix), Some(0));
        assert_eq!(
            parse_iso8601("2024-02-29T12:34:56Z").map(unix),
            Some(1_709_210_096)
        );
        assert_eq!(
            parse_iso8601("2024-02-29 12:34:56").map(unix),
            Some(1_709_210_096)
        );
        assert_eq!(
            parse_iso8601("2024-02-29T20:34:56+08:00").map(unix),
            Some(1_709_210_096)
        );
        assert_eq!(
            parse_iso8601("2024-02-29T12:34:56.123456Z").map(unix),
            Some(1_709_210_096)
        );
        for bad in [
            "",
            "2024-13-01T00:00:00Z",
            "2024-02-29",
            "2024-02-29T1:2:3Z",
            "x024-02-29T12:34:56Z",
            "2024-02-29T12:34:56+8",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    #[test]
    fn unix_guess_handles_seconds_and_millis() {
        assert_eq!(
            from_unix_guess(1_781_777_280).map(unix),
            Some(1_781_777_280)
        );
        assert_eq!(
            from_unix_guess(1_781_777_280_123).map(unix),
            Some(1_781_777_280)
        );
        assert_eq!(
            from_unix_guess(1_781_777_280_123_456).map(unix),
            Some(1_781_777_280)
        );
        assert_eq!(
            from_unix_guess(1_781_777_280_123_456_789).map(unix),
            Some(1_781_777_280)
        );
        // No plausible time: not a time (never 1970, never the year 58,000).
        for v in [
            0,
            1,
            -1,
            999_999_999,
            10_000_000_000,
            99_999_999_999,
            i64::MIN,
        ] {
            assert_eq!(from_unix_guess(v), None, "{v}");
        }
    }

    #[test]
    fn offsets_past_a_day_are_not_offsets() {
        for bad in [
            "2024-01-01T00:00:00+99:99",
            "2024-01-01T00:00:00+24:00",
            "2024-01-01T00:00:00+00:60",
            "2024-01-01T00:00:00-2500",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
    }

    /// Real zones run from UTC-12:00 to UTC+14:00: an offset beyond them (up to ±23:59 was
    /// trusted) would move the time by up to a day, so it is no time at all.
    #[test]
    fn offsets_beyond_the_zones_in_use_are_no_time() {
        for bad in [
            "2024-01-01T00:00:00+15:00",
            "2024-01-01T00:00:00+14:01",
            "2024-01-01T00:00:00+20:00",
            "2024-01-01T00:00:00+23:59",
            "2024-01-01T00:00:00+2359",
            "2024-01-01T00:00:00+16",
            "2024-01-01T00:00:00-12:01",
            "2024-01-01T00:00:00-13:00",
            "2024-01-01T00:00:00-23:59",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
            assert_eq!(parse_iso8601_zoned(bad), None, "{bad}");
        }
        // The edges are real zones (Line Islands, Baker Island), and so is everything between.
        let midnight = 1_704_067_200;
        for (ok, unix_secs) in [
            ("2024-01-01T00:00:00+14:00", midnight - 14 * 3600),
            ("2024-01-01T00:00:00-12:00", midnight + 12 * 3600),
            ("2024-01-01T00:00:00+05:45", midnight - 5 * 3600 - 45 * 60),
            ("2024-01-01T00:00:00-0930", midnight + 9 * 3600 + 30 * 60),
            ("2024-01-01T00:00:00+13", midnight - 13 * 3600),
        ] {
            assert_eq!(parse_iso8601(ok).map(unix), Some(unix_secs), "{ok}");
            assert_eq!(parse_iso8601_zoned(ok).map(|(_, zoned)| zoned), Some(true));
        }
    }

    #[test]
    fn retry_after_headers_give_their_longest_wait() {
        use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
        let of = |values: &[&'static str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append(RETRY_AFTER, HeaderValue::from_static(v));
            }
            retry_after_of(&h)
        };
        assert_eq!(of(&[]), None);
        assert_eq!(of(&["2"]), Some(Duration::from_secs(2)));
        assert_eq!(of(&["30, 30"]), Some(Duration::from_secs(30)));
        assert_eq!(of(&["0", "60"]), Some(Duration::from_secs(60)));
        assert_eq!(of(&["soon, 5"]), Some(Duration::from_secs(5)));
        assert_eq!(of(&["soon"]), None);
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(" 2 "), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        // HTTP dates (IMF-fixdate and the obsolete RFC 850 and asctime forms) are not read:
        // the retry keeps its own backoff.
        for date in [
            "Sun, 06 Nov 1994 08:49:37 GMT",
            "Sunday, 06-Nov-94 08:49:37 GMT",
            "Sun Nov  6 08:49:37 1994",
        ] {
            assert_eq!(parse_retry_after(date), None, "{date}");
        }
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-3"), None);
        assert_eq!(parse_retry_after("-0.5"), None);
        assert_eq!(parse_retry_after("NaN"), None);
        // Not numbers as JSON writes them: no `Retry-After`, as any other word.
        for odd in ["inf", "+5", ".5", "5.", "0x10", "[1]", "\"5\"", "1e400x"] {
            assert_eq!(parse_retry_after(odd), None, "{odd}");
        }
        // Beyond u32, u64 or a Duration: a very long wait, never "no Retry-After".
        for huge in [
            "4294967296",
            "99999999999999999999999",
            "1e12",
            "1e400",
            "12e999999",
        ] {
            assert!(
                parse_retry_after(huge).is_some_and(|d| d >= Duration::from_secs(1 << 32)),
                "{huge}"
            );
        }
    }

    #[test]
    fn formats_round_trip() {
        let t = UNIX_EPOCH + Duration::from_millis(1_709_210_096_789);
        let s = format_rfc3339(t);
        assert_eq!(s, "2024-02-29T12:34:56.789Z");
        assert_eq!(parse_iso8601(&s), Some(t));
        // Outside the calendar's years: said, never a panic.
        let before = UNIX_EPOCH - Duration::from_millis(1_500);
        assert_eq!(format_rfc3339(before), "1.5 s before 1970-01-01T00:00:00Z");
        let far = UNIX_EPOCH + Duration::from_secs(253_402_300_800);
        assert_eq!(
            format_rfc3339(far),
            "253402300800 s after 1970-01-01T00:00:00Z"
        );
        let last = far - Duration::from_millis(1);
        assert_eq!(format_rfc3339(last), "9999-12-31T23:59:59.999Z");
        // A date the calendar does not have is no date; nor is one before 1970.
        assert_eq!(parse_iso8601("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_iso8601("2023-04-31T00:00:00Z"), None);
        assert_eq!(parse_iso8601("1969-12-31T23:59:59.5Z"), None);
        // An offset can still reach before 1970 from a 1970 civil time.
        assert_eq!(
            parse_iso8601("1970-01-01T00:30:00+01:00"),
            UNIX_EPOCH.checked_sub(Duration::from_secs(1800))
        );
        assert_eq!(
            parse_iso8601("2024-02-29T07:34:56.5-05:00"),
            Some(UNIX_EPOCH + Duration::from_millis(1_709_210_096_500))
        );
        // A leap second is read as the second before it.
        assert_eq!(
            parse_iso8601("2016-12-31T23:59:60Z"),
            parse_iso8601("2016-12-31T23:59:59Z")
        );
    }
}
