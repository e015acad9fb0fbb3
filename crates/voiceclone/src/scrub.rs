//! Keeping the API key out of everything a server says.
//!
//! A server (or a proxy in front of it) may echo the `Authorization` header back: whole, cut,
//! upper-cased, inside an HTML page, inside an id. Every string this crate reads from an
//! answer passes through a [`Scrubber`] **before** it is cut to length or used, so no piece of
//! the key survives: any run of 8 or more characters of the key (compared ASCII
//! case-insensitively) becomes `[redacted]`. A key shorter than 8 characters is redacted
//! wherever it appears whole.
//!
//! The scrubber reaches the decoders as a text filter: every `client_glue::Text` of a
//! generated answer type and every lenient field of `crate::wire` passes through it as it
//! is decoded (a thread-local set while an answer is decoded: by the generated clients, whose
//! config carries the filter, see `provider::Connect::config` and `client_glue::hooks::decode`,
//! and by this crate's own decoding through `decoding_with`), so no string is missed and the
//! key is never threaded through serde.

use std::borrow::Cow;
use std::sync::Arc;

/// What a redacted piece of a server string is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// Pieces of the key this long or longer are never printed.
pub(crate) const MIN_PIECE: usize = 8;

// A piece is one `u64` (its bytes, ASCII-lowercased): a window of the text is read as a
// rolling `u64`, and looked up in the secret's sorted windows. All patterns have the same
// length, so a set of words does what a general multi-pattern matcher would, with no crate.
const _: () = assert!(MIN_PIECE == 8);

/// Finds and removes pieces of one secret: what this crate does to every string a server
/// sends, against the API key; for a caller's own output, against any secret of theirs (a
/// webhook secret a server may echo, say).
///
/// ```
/// use voiceclone::scrub::Scrubber;
///
/// let s = Scrubber::new("whsec-0123456789abcdef");
/// // Whole, cut, upper-cased: any run of 8 or more of its characters goes.
/// assert_eq!(s.scrub("secret WHSEC-0123456789ABCDEF here"), "secret [redacted] here");
/// assert_eq!(s.scrub("tail 89abcdef!"), "tail [redacted]!");
/// assert_eq!(s.scrub("nothing of it"), "nothing of it");
/// ```
#[derive(Clone)]
pub struct Scrubber {
    pieces: Pieces,
    /// Whether the key holds a `.` (see `scrub_as_url`).
    key_has_dot: bool,
}

#[derive(Clone)]
enum Pieces {
    /// An empty secret: nothing to find.
    None,
    /// A secret shorter than [`MIN_PIECE`], ASCII-lowercased: found only whole.
    Whole(Vec<u8>),
    /// Every [`MIN_PIECE`]-byte window of the secret as a word, sorted and deduplicated,
    /// with a bitmap of the windows' last two bytes, so most text windows are passed over
    /// with one bit test.
    Windows {
        words: Vec<u64>,
        tails: Box<[u64; 1024]>,
    },
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrubber([redacted])")
    }
}

fn tail_bit(word: u64) -> (usize, u64) {
    let tail = (word & 0xffff) as usize;
    (tail >> 6, 1u64 << (tail & 63))
}

impl Scrubber {
    /// A scrubber for `secret`: its 8-byte windows (or the whole secret when shorter, found
    /// only whole, in any case; an empty one finds nothing). A very short "secret" (`"a"`)
    /// is redacted wherever it appears, as asked: give it real secrets only.
    pub fn new(secret: &str) -> Self {
        let lower: Vec<u8> = secret.bytes().map(|b| b.to_ascii_lowercase()).collect();
        let pieces = if lower.is_empty() {
            Pieces::None
        } else if lower.len() < MIN_PIECE {
            Pieces::Whole(lower)
        } else {
            let mut words: Vec<u64> = lower
                .windows(MIN_PIECE)
                .map(|w| w.iter().fold(0u64, |v, &b| (v << 8) | u64::from(b)))
                .collect();
            words.sort_unstable();
            words.dedup();
            let mut tails = Box::new([0u64; 1024]);
            for &w in &words {
                let (slot, bit) = tail_bit(w);
                if let Some(t) = tails.get_mut(slot) {
                    *t |= bit;
                }
            }
            Pieces::Windows { words, tails }
        };
        Self {
            pieces,
            key_has_dot: secret.contains('.'),
        }
    }

    /// Calls `found(start, end)` for every piece of the secret in `text` (byte offsets, in
    /// order of their end, overlapping ones included); stops when `found` returns false.
    fn each_piece(&self, text: &str, mut found: impl FnMut(usize, usize) -> bool) {
        let bytes = text.as_bytes();
        match &self.pieces {
            Pieces::None => {}
            Pieces::Whole(piece) => {
                let n = piece.len();
                for (start, window) in bytes.windows(n).enumerate() {
                    if window.eq_ignore_ascii_case(piece) && !found(start, start + n) {
                        return;
                    }
                }
            }
            Pieces::Windows { words, tails } => {
                let mut word = 0u64;
                for (i, &b) in bytes.iter().enumerate() {
                    word = (word << 8) | u64::from(b.to_ascii_lowercase());
                    if i + 1 < MIN_PIECE {
                        continue;
                    }
                    let (slot, bit) = tail_bit(word);
                    let maybe = tails.get(slot).is_some_and(|t| t & bit != 0);
                    if maybe
                        && words.binary_search(&word).is_ok()
                        && !found(i + 1 - MIN_PIECE, i + 1)
                    {
                        return;
                    }
                }
            }
        }
    }

    /// The byte ranges of `text` covered by pieces of the secret, merged, widened to
    /// character boundaries.
    fn covered(&self, text: &str) -> Vec<(usize, usize)> {
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        self.each_piece(text, |mut start, mut end| {
            while start > 0 && !text.is_char_boundary(start) {
                start -= 1;
            }
            while end < text.len() && !text.is_char_boundary(end) {
                end += 1;
            }
            match ranges.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => ranges.push((start, end)),
            }
            true
        });
        ranges
    }

    /// True when `text` holds a piece of the secret.
    pub fn finds_secret_in(&self, text: &str) -> bool {
        let mut seen = false;
        self.each_piece(text, |_, _| {
            seen = true;
            false
        });
        seen
    }

    /// `text` with every piece of the secret replaced by `[redacted]`.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let ranges = self.covered(text);
        if ranges.is_empty() {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end) in ranges {
            out.push_str(text.get(at..start).unwrap_or_default());
            out.push_str(REDACTED);
            at = end;
        }
        out.push_str(text.get(at..).unwrap_or_default());
        Cow::Owned(out)
    }

    /// Like [`Scrubber::scrub`], consuming and reusing `text` when nothing is found.
    pub(crate) fn scrub_owned(&self, text: String) -> String {
        match self.scrub(&text) {
            Cow::Borrowed(_) => text,
            Cow::Owned(s) => s,
        }
    }
}

/// A scrubber that finds nothing: for what has no API key (the fake client, tests).
#[cfg(any(test, feature = "fake"))]
pub(crate) fn no_secret() -> &'static Scrubber {
    static NONE: std::sync::OnceLock<Scrubber> = std::sync::OnceLock::new();
    NONE.get_or_init(|| Scrubber::new(""))
}

/// A value printed with every piece of the secret scrubbed: how a log line shows a caller's
/// value (a task id, which may be the API key pasted into the wrong argument), as in
/// `tracing::debug!(job_id = %Scrubbed(id, &scrubber), ..)`. The text is made only when the
/// line is written.
pub(crate) struct Scrubbed<'a, T: ?Sized>(pub(crate) &'a T, pub(crate) &'a Scrubber);

impl<T: std::fmt::Display + ?Sized> std::fmt::Display for Scrubbed<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1.scrub(&self.0.to_string()))
    }
}

/// The scrubber as the generated clients' text filter: every `client_glue::Text` of an
/// answer passes through it as it is decoded.
pub(crate) fn text_filter(scrubber: &Arc<Scrubber>) -> client_glue::TextFilter {
    let scrubber = Arc::clone(scrubber);
    // A string that is a URL is also checked as the URL it will be parsed into (see
    // [`Scrubber::scrub_as_url`]).
    Arc::new(move |text: String| scrubber.scrub_as_url(scrubber.scrub_owned(text)))
}

/// Runs `decode` with `filter` active for every string decoded meanwhile on this thread (the
/// generated types' `Text` and this crate's lenient field decoders alike).
pub(crate) fn decoding_with<R>(filter: &client_glue::TextFilter, decode: impl FnOnce() -> R) -> R {
    client_glue::wire::with_text_filter_sync(filter, decode)
}

/// Scrubs a string read from a server with the filter of the answer being decoded (none
/// outside [`decoding_with`] or a filtered generated call).
pub(crate) fn server_string(text: String) -> String {
    client_glue::wire::filter_text(text)
}

impl Scrubber {
    /// Parsing a URL changes its text: the host is percent-decoded, IDNA-mapped (full-width
    /// letters become ASCII) and punycoded (which keeps a label's ASCII letters, in order),
    /// tabs and newlines anywhere are dropped, `\\` becomes `/`, dot segments are removed. So a
    /// URL free of the key as text can hold it once parsed (`https://%73%6b-.../`). When `text`
    /// parses as a URL whose serialization holds a piece of the key, that serialization,
    /// scrubbed, replaces it (and no longer parses as a URL).
    fn scrub_as_url(&self, text: String) -> String {
        // Parsing only joins pieces of the key that the text keeps apart when it percent-
        // decodes, maps non-ASCII (IDNA, punycode), drops control characters or rewrites a
        // numeric host as dotted IPv4 (which can only matter for a key holding a dot): the
        // common URL, plain ASCII, is left unparsed.
        let may_join = |b: u8| b == b'%' || !(0x20..0x80).contains(&b);
        if !text.contains(':') || !(self.key_has_dot || text.bytes().any(may_join)) {
            return text;
        }
        match url::Url::parse(text.trim()) {
            Ok(url) if self.finds_secret_in(url.as_str()) => self.scrub_owned(url.into()),
            _ => text,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "sk-live-0123456789abcdefXYZ";

    #[test]
    fn a_scrubbed_value_prints_without_the_secret() {
        let s = Scrubber::new(KEY);
        let id = crate::model::JobId::new(format!("t-{KEY}"));
        assert_eq!(Scrubbed(&id, &s).to_string(), "t-[redacted]");
        assert_eq!(Scrubbed("t-1", &s).to_string(), "t-1");
    }

    #[test]
    fn every_piece_of_eight_or_more_is_redacted() {
        let s = Scrubber::new(KEY);
        assert_eq!(s.scrub("no secret here"), "no secret here");
        assert_eq!(s.scrub(&format!("key={KEY}!")), "key=[redacted]!");
        // A cut of the key, a prefix, a suffix, upper-cased: all pieces of 8+.
        assert_eq!(s.scrub("x sk-live-0123 y"), "x [redacted] y");
        assert_eq!(s.scrub("…abcdefXYZ"), "…[redacted]");
        assert_eq!(s.scrub("SK-LIVE-0123456"), "[redacted]");
        // Seven characters are not a piece.
        assert_eq!(s.scrub("sk-live"), "sk-live");
        // Two pieces, separated.
        assert_eq!(
            s.scrub("sk-live-01 and 89abcdefXY"),
            "[redacted] and [redacted]"
        );
        assert!(s.finds_secret_in("ID-56789abcdef"));
        assert!(!s.finds_secret_in("ID-567"));
    }

    #[test]
    fn multibyte_text_around_a_piece_stays_valid() {
        let s = Scrubber::new(KEY);
        let text = format!("密钥{KEY}是");
        let out = s.scrub(&text);
        assert_eq!(out, "密钥[redacted]是");
    }

    #[test]
    fn short_and_empty_secrets() {
        assert_eq!(Scrubber::new("abc123").scrub("xabc123y"), "x[redacted]y");
        assert_eq!(Scrubber::new("").scrub("anything"), "anything");
    }

    #[test]
    fn a_url_is_checked_as_the_url_it_parses_into() {
        let s = Arc::new(Scrubber::new(KEY));
        let f = text_filter(&s);
        let pct: String = KEY.bytes().map(|b| format!("%{b:02x}")).collect();
        let spaced: String = KEY
            .chars()
            .enumerate()
            .flat_map(|(i, c)| if i % 5 == 4 { vec![c, '\n'] } else { vec![c] })
            .collect();
        let interleaved: String = KEY
            .to_ascii_lowercase()
            .chars()
            .flat_map(|c| [c, 'ü'])
            .collect();
        for url in [
            format!("https://{pct}.example.com/a.mp3"),
            format!("https:{pct}.example.com/a.mp3"),
            format!("https://cdn.example.com/{spaced}.mp3"),
            format!("https://{interleaved}.example.com/a.mp3"),
        ] {
            let out = decoding_with(&f, || server_string(url.clone()));
            let parsed = url::Url::parse(&out).map(String::from).unwrap_or_default();
            assert!(!s.finds_secret_in(&out), "{url} -> {out}");
            assert!(!s.finds_secret_in(&parsed), "{url} -> {out} -> {parsed}");
        }
        let plain = "https://cdn.example.com/a%20b.mp3?x=1";
        assert_eq!(decoding_with(&f, || server_string(plain.to_owned())), plain);
    }

    #[test]
    fn the_filter_is_scoped() {
        let f = text_filter(&Arc::new(Scrubber::new(KEY)));
        let inside = decoding_with(&f, || server_string(format!("a{KEY}")));
        assert_eq!(inside, "a[redacted]");
        assert_eq!(server_string(KEY.to_owned()), KEY);
    }
}
