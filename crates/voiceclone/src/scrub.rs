//! Keeping the API key out of everything a server says.
//!
//! A server (or a proxy in front of it) may echo the `Authorization` header back: whole, cut,
//! upper-cased, encoded, inside an HTML page, inside an id. Every string this crate reads from
//! an answer passes through a [`Scrubber`] **before** it is cut to length or used, so no piece
//! of the key survives: any run of 8 or more characters of the key (compared ASCII
//! case-insensitively) becomes `[redacted]`, and so does any run that encodes 8 or more of
//! them: percent-encoded (every byte or some, up to three times over), hex (either case) or
//! base64 (standard or URL-safe, whatever bytes come before the key); see [`Scrubber`] for the
//! exact rule. A key shorter than 8 characters is redacted wherever it appears whole, as it is
//! or percent-encoded.
//!
//! The scrubber reaches the decoders as a text filter: every `client_glue::Text` of a
//! generated answer type and every lenient field of `crate::wire` passes through it as it
//! is decoded (a thread-local set while an answer is decoded: by the generated clients, whose
//! config carries the filter, see `provider::Connect::config` and `client_glue::hooks::decode`,
//! and by this crate's own decoding through `decoding_with`), so no string is missed and the
//! key is never threaded through serde.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::sync::Arc;

/// What a redacted piece of a server string is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// Pieces of the key this long or longer are never printed.
pub(crate) const MIN_PIECE: usize = 8;

/// Hex digits that encode [`MIN_PIECE`] bytes.
const HEX_PIECE: usize = 2 * MIN_PIECE;

/// Base64 characters that the key's bytes alone decide, as many as any [`MIN_PIECE`] of them
/// encode to at least: 8 bytes starting anywhere in a group of three leave 10 characters that
/// no neighbouring byte touches (at most 9 for 7 bytes). 60 bits of the key: more than 7 of
/// its characters hold.
const BASE64_PIECE: usize = 10;

// Every window is read as a rolling `u128` of its bytes.
const _: () = assert!(MIN_PIECE <= 16 && HEX_PIECE <= 16 && BASE64_PIECE <= 16);

/// Finds and removes pieces of one secret: what this crate does to every string a server
/// sends, against the API key; for a caller's own output, against any secret of theirs (a
/// webhook secret a server may echo, say).
///
/// A piece is a run of the text that spells or encodes 8 or more consecutive bytes of the
/// secret (a shorter secret: all of it):
/// - as it is, compared ASCII case-insensitively;
/// - percent-encoded, any of its bytes (`%73k-...`), decoded up to three times (`%2573`), as
///   `client_glue` decodes a header; what it decodes to is compared as above;
/// - hex, 16 digits (8 bytes) in either case;
/// - base64, standard or URL-safe, whatever bytes come before the secret: 10 characters of
///   its encoding that only its bytes decide, 60 of its bits (any 8 of its bytes encode to
///   at least 10 such characters).
///
/// Hex and base64 are of the secret as it is, lower-cased or upper-cased (not of a mix of
/// cases). Not found: the secret in full-width or other compatibility characters
/// (`ｓｋ－...`, outside a URL's host), hex with separators (`73 6b 2d`), percent-encoding
/// four or more times over, or pieces of 7 or fewer interleaved with other text.
///
/// A secret shorter than 8 bytes is not searched for in hex or base64. Neither 7 characters
/// of the secret nor their percent or hex encoding is a piece; their base64 is one only
/// when the bytes beside them repeat 4 or more bits of the secret's own (60 bits of it
/// again). The cost is one pass over the text; when it holds a `%` followed by two hex
/// digits, one more, which decodes it three times over as it reads it.
///
/// ```
/// use voiceclone::scrub::Scrubber;
///
/// let s = Scrubber::new("whsec-0123456789abcdef");
/// // Whole, cut, upper-cased, encoded: any run of 8 or more of its characters goes.
/// assert_eq!(s.scrub("secret WHSEC-0123456789ABCDEF here"), "secret [redacted] here");
/// assert_eq!(s.scrub("tail 89abcdef!"), "tail [redacted]!");
/// assert_eq!(s.scrub("sig=%77%68%73%65%63%2D%30%31&x=1"), "sig=[redacted]&x=1");
/// assert_eq!(s.scrub("hex 77687365632d30313233"), "hex [redacted]");
/// // (Its last character also holds bits beyond the secret: kept.)
/// assert_eq!(s.scrub("Basic d2hzZWMtMDEyMzQ1Njc4OWFiY2RlZg=="), "Basic [redacted]g==");
/// assert_eq!(s.scrub("nothing of it"), "nothing of it");
/// ```
#[derive(Clone)]
pub struct Scrubber {
    /// The forms of the secret searched for; none for an empty secret.
    forms: Vec<Form>,
    /// Every form's [`Form::tails`] in any ASCII case: most bytes of a text are passed over
    /// with this one bit test on its last two bytes as they are.
    any_tail: Box<[u64; 1024]>,
    /// Whether the key holds a `.` (see `scrub_as_url`).
    key_has_dot: bool,
    /// Whether the key is shorter than [`MIN_PIECE`]: found wherever it appears whole, so in
    /// ordinary words too.
    short: bool,
}

/// The windows of one form of the secret (its text, hex, base64), all of one length. A
/// window of the text is read as a rolling `u128` and looked up in the sorted words: all
/// patterns of a form have the same length, so a set of words does what a general
/// multi-pattern matcher would, with no crate.
#[derive(Clone)]
struct Form {
    /// The windows' length in bytes, 1 to 16.
    len: usize,
    /// The low `len` bytes of a `u128`.
    mask: u128,
    /// Whether the text is compared ASCII-lowercased (the secret's text, hex digits) or as
    /// it is (base64).
    fold: bool,
    /// Every window, as the number its bytes spell (big-endian), sorted and deduplicated.
    words: Vec<u128>,
    /// A bitmap of the windows' last two bytes (any first byte for windows of one byte).
    tails: Box<[u64; 1024]>,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrubber([redacted])")
    }
}

/// The last two bytes of `word`, as an index into a tails bitmap.
fn tail_of(word: u128) -> usize {
    (word & 0xffff) as usize
}

fn has_tail(tails: &[u64; 1024], tail: usize) -> bool {
    tails
        .get(tail >> 6)
        .is_some_and(|t| t & (1u64 << (tail & 63)) != 0)
}

fn set_tail(tails: &mut [u64; 1024], tail: usize) {
    if let Some(t) = tails.get_mut(tail >> 6) {
        *t |= 1u64 << (tail & 63);
    }
}

/// The number `bytes` spell, big-endian (only the last 16 count).
fn word_of(bytes: &[u8]) -> u128 {
    bytes.iter().fold(0, |v, &b| (v << 8) | u128::from(b))
}

/// `word`'s bytes ASCII-lowercased.
fn folded(word: u128) -> u128 {
    u128::from_be_bytes(word.to_be_bytes().map(|b| b.to_ascii_lowercase()))
}

impl Form {
    fn new<'a>(len: usize, fold: bool, windows: impl Iterator<Item = &'a [u8]>) -> Self {
        let mut words: Vec<u128> = windows.map(word_of).collect();
        words.sort_unstable();
        words.dedup();
        let mut tails = Box::new([0u64; 1024]);
        for &w in &words {
            for tail in tails_of(len, w) {
                set_tail(&mut tails, tail_of(tail));
            }
        }
        let mask = u32::try_from(len.saturating_mul(8))
            .ok()
            .and_then(|bits| 1u128.checked_shl(bits))
            .map_or(u128::MAX, |bit| bit.wrapping_sub(1));
        Self {
            len,
            mask,
            fold,
            words,
            tails,
        }
    }
}

/// The last two bytes a text holds where `word`, a window of `len` bytes, ends: any byte
/// before a window of one.
fn tails_of(len: usize, word: u128) -> Vec<u128> {
    if len == 1 {
        (0..=255u128)
            .map(|before| (before << 8) | (word & 0xff))
            .collect()
    } else {
        vec![word & 0xffff]
    }
}

/// The base64 characters that only `key`'s bytes decide, for each of the three ways its
/// bytes can fall into groups of three (after 0, 1 or 2 other bytes), in the standard and
/// the URL-safe alphabet. Character `i` of an encoding holds bits `6i..6i + 6` of the data:
/// it is the key's alone when those fall within the key's bits.
fn base64_runs(key: &[u8]) -> Vec<String> {
    use base64::Engine as _;
    let mut runs = Vec::new();
    for before in 0..3usize {
        let mut data = vec![0u8; before];
        data.extend_from_slice(key);
        let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&data);
        let first = before.saturating_mul(8).div_ceil(6);
        let end = data.len().saturating_mul(8) / 6;
        if let Some(run) = encoded.get(first..end) {
            runs.push(run.replace('+', "-").replace('/', "_"));
            runs.push(run.to_owned());
        }
    }
    runs
}

impl Scrubber {
    /// A scrubber for `secret`: its 8-byte windows in any case, as they are, in hex and in
    /// base64 (of the secret as it is, lower-cased or upper-cased), or the whole secret when
    /// shorter, found only as it is or percent-encoded, in any case; an empty one finds
    /// nothing. A very short "secret" (`"a"`) is redacted wherever it
    /// appears, as asked: give it real secrets only.
    pub fn new(secret: &str) -> Self {
        let bytes = secret.as_bytes();
        let lower: Vec<u8> = bytes.iter().map(u8::to_ascii_lowercase).collect();
        let mut forms = Vec::new();
        if !bytes.is_empty() {
            let len = bytes.len().min(MIN_PIECE);
            forms.push(Form::new(len, true, lower.windows(len)));
        }
        if bytes.len() >= MIN_PIECE {
            // The text form matches the key in any case, so the encoded ones match it as it
            // is, lower-cased and upper-cased (an echo of a header a proxy re-cased).
            let upper: Vec<u8> = bytes.iter().map(u8::to_ascii_uppercase).collect();
            let mut cased: Vec<&[u8]> = vec![bytes, &lower, &upper];
            cased.sort_unstable();
            cased.dedup();
            let hex: Vec<String> = cased
                .iter()
                .flat_map(|key| key.windows(MIN_PIECE))
                .map(|w| w.iter().map(|b| format!("{b:02x}")).collect())
                .collect();
            forms.push(Form::new(HEX_PIECE, true, hex.iter().map(String::as_bytes)));
            let runs: Vec<String> = cased.iter().flat_map(|key| base64_runs(key)).collect();
            let windows = runs.iter().flat_map(|r| r.as_bytes().windows(BASE64_PIECE));
            forms.push(Form::new(BASE64_PIECE, false, windows));
        }
        let mut any_tail = Box::new([0u64; 1024]);
        for form in &forms {
            for tail in form.words.iter().flat_map(|&w| tails_of(form.len, w)) {
                let [.., before, last] = tail.to_be_bytes();
                let cases = |b: u8| {
                    if form.fold {
                        [b, b.to_ascii_uppercase()]
                    } else {
                        [b, b]
                    }
                };
                for before in cases(before) {
                    for last in cases(last) {
                        set_tail(&mut any_tail, tail_of(word_of(&[before, last])));
                    }
                }
            }
        }
        Self {
            forms,
            any_tail,
            key_has_dot: secret.contains('.'),
            short: bytes.len() < MIN_PIECE,
        }
    }

    /// Whether a caller's text, name or URL is to be refused for holding a piece of the key:
    /// [`Scrubber::finds_secret_in`], for a key of at least [`MIN_PIECE`] characters. A shorter
    /// one (a test's `"key"`) is found in ordinary words (`monkey`), which would make every
    /// such request refused; it is still redacted from what servers say (review 34 pass 2 #9).
    pub(crate) fn refuses_in_a_request(&self, text: &str) -> bool {
        !self.short && self.finds_secret_in(text)
    }

    /// Calls `found(start, end)` for every piece of the secret in `text` (byte offsets;
    /// overlapping ones included, in no set order); stops when `found` returns false.
    fn each_piece(&self, text: &str, mut found: impl FnMut(usize, usize) -> bool) {
        if self.forms.is_empty() {
            return;
        }
        let bytes = text.as_bytes();
        // The text as it is: only its last two bytes are carried from byte to byte; a window
        // is read from the text when they may end a piece.
        let mut tail = 0usize;
        let mut percent = false;
        for (i, &byte) in bytes.iter().enumerate() {
            tail = ((tail << 8) | usize::from(byte)) & 0xffff;
            percent |= byte == b'%';
            if has_tail(&self.any_tail, tail)
                && let Some((start, end)) = self.piece_ending_at(bytes, i)
                && !found(start, end)
            {
                return;
            }
        }
        if !percent || !has_escape(bytes) {
            return;
        }
        // Each decoding its own window, all in one pass: a key holding `%XX` is found at the
        // round that gives it back, an echo encoded twice at the second. Pieces go to `found`
        // as they are found, never kept: a hostile text can hold one at nearly every byte.
        let found = RefCell::new(found);
        let stopped = Cell::new(false);
        let report = |start: usize, end: usize| {
            if !stopped.get() && !(found.borrow_mut())(start, end) {
                stopped.set(true);
            }
        };
        let raw = bytes.iter().enumerate().map(|(i, &byte)| Spanned {
            byte,
            start: i,
            end: i + 1,
            fresh: false,
        });
        let once = tapped(self, PercentDecoded::new(raw), &report);
        let twice = tapped(self, PercentDecoded::new(once), &report);
        tapped(self, PercentDecoded::new(twice), &report)
            .take_while(|_| !stopped.get())
            .for_each(drop);
    }

    /// The range of the longest piece of the secret that ends with `bytes[i]`. Out of line:
    /// the loop over every byte stays small.
    #[inline(never)]
    fn piece_ending_at(&self, bytes: &[u8], i: usize) -> Option<(usize, usize)> {
        let end = i.saturating_add(1);
        let window = bytes.get(end.saturating_sub(16)..end)?;
        let len = self.piece_len(word_of(window), end)?;
        Some((end.saturating_sub(len), end))
    }

    /// The length of the longest piece of the secret that `word`, the last bytes of a
    /// stream `seen` bytes long, ends with.
    fn piece_len(&self, word: u128, seen: usize) -> Option<usize> {
        let mut lower = None;
        self.forms
            .iter()
            .filter(|form| {
                if seen < form.len {
                    return false;
                }
                let word = if form.fold {
                    *lower.get_or_insert_with(|| folded(word))
                } else {
                    word
                };
                has_tail(&form.tails, tail_of(word))
                    && form.words.binary_search(&(word & form.mask)).is_ok()
            })
            .map(|form| form.len)
            .max()
    }

    /// The byte ranges of `text` covered by pieces of the secret, merged, widened to
    /// character boundaries.
    fn covered(&self, text: &str) -> Vec<(usize, usize)> {
        // A bit per byte of the text (made at the first piece), so that pieces found in any
        // order (the text as it is, then decoded) merge in one sweep: linear, no sort.
        let mut marked: Vec<u64> = Vec::new();
        self.each_piece(text, |start, end| {
            if marked.is_empty() {
                marked = vec![0; text.len().div_ceil(64)];
            }
            for at in start..end {
                if let Some(bits) = marked.get_mut(at / 64) {
                    *bits |= 1u64 << (at % 64);
                }
            }
            true
        });
        let mut ranges: Vec<(usize, usize)> = Vec::new();
        if marked.is_empty() {
            return ranges;
        }
        let is_marked = |at: usize| {
            marked
                .get(at / 64)
                .is_some_and(|b| b & (1u64 << (at % 64)) != 0)
        };
        let mut at = 0;
        while at < text.len() {
            if !is_marked(at) {
                at += 1;
                continue;
            }
            let mut start = at;
            while at < text.len() && is_marked(at) {
                at += 1;
            }
            let mut end = at;
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
        }
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

/// One byte of a text, or of a text decoded, with the range of the text it came from.
#[derive(Clone, Copy)]
struct Spanned {
    byte: u8,
    start: usize,
    end: usize,
    /// Whether the decoding that gave this stream made this byte (out of an escape) rather
    /// than passing it on from the stream it decoded.
    fresh: bool,
}

/// A rolling window over a decoded stream of bytes: the last 16, and where in the text each
/// began.
struct Rolling<'a> {
    scrubber: &'a Scrubber,
    word: u128,
    seen: usize,
    starts: [usize; 16],
    /// `seen` just after the last fresh byte (0 before any).
    fresh_at: usize,
}

impl<'a> Rolling<'a> {
    fn new(scrubber: &'a Scrubber) -> Self {
        Self {
            scrubber,
            word: 0,
            seen: 0,
            starts: [0; 16],
            fresh_at: 0,
        }
    }

    /// Takes in the next byte; the range of the text of the longest piece of the secret
    /// that ends with it, if any, when that piece holds a fresh byte. A piece without one is
    /// also, byte for byte, in the stream this one decoded, whose window has found it: the
    /// text as it is would otherwise be found again by every decoding.
    #[inline]
    fn push(&mut self, at: Spanned) -> Option<(usize, usize)> {
        self.word = (self.word << 8) | u128::from(at.byte);
        if let Some(start) = self.starts.get_mut(self.seen % 16) {
            *start = at.start;
        }
        self.seen = self.seen.wrapping_add(1);
        if at.fresh {
            self.fresh_at = self.seen;
        }
        let since_fresh = self.seen.wrapping_sub(self.fresh_at);
        if self.fresh_at == 0
            || since_fresh >= 16
            || !has_tail(&self.scrubber.any_tail, tail_of(self.word))
        {
            return None;
        }
        let len = self.scrubber.piece_len(self.word, self.seen)?;
        if since_fresh >= len {
            return None;
        }
        let start = self.starts.get(self.seen.wrapping_sub(len) % 16)?;
        Some((*start, at.end))
    }
}

/// `stream` as it is, each of its bytes also taken in by a window of its own, whose pieces
/// of the secret go to `found` as they are found.
fn tapped<'a>(
    scrubber: &'a Scrubber,
    stream: impl Iterator<Item = Spanned> + 'a,
    found: &'a dyn Fn(usize, usize),
) -> impl Iterator<Item = Spanned> + 'a {
    let mut window = Rolling::new(scrubber);
    stream.inspect(move |&at| {
        if let Some((start, end)) = window.push(at) {
            found(start, end);
        }
    })
}

fn hex_digit(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// Whether `bytes` hold a `%` followed by two hex digits.
fn has_escape(bytes: &[u8]) -> bool {
    bytes.windows(3).any(
        |w| matches!(w, [b'%', hi, lo] if hex_digit(*hi).is_some() && hex_digit(*lo).is_some()),
    )
}

/// A stream percent-decoded once: `%XX` becomes the byte it escapes, spanning the text the
/// three came from.
struct PercentDecoded<I> {
    inner: I,
    /// Up to two bytes read past a `%`, filled from the front.
    ahead: [Option<Spanned>; 2],
}

impl<I: Iterator<Item = Spanned>> PercentDecoded<I> {
    fn new(inner: I) -> Self {
        Self {
            inner,
            ahead: [None, None],
        }
    }
}

impl<I: Iterator<Item = Spanned>> Iterator for PercentDecoded<I> {
    type Item = Spanned;

    fn next(&mut self) -> Option<Spanned> {
        let [first, second] = &mut self.ahead;
        let at = match first.take() {
            Some(at) => {
                *first = second.take();
                at
            }
            None => self.inner.next()?,
        };
        if at.byte != b'%' {
            return Some(Spanned { fresh: false, ..at });
        }
        if first.is_none() {
            *first = self.inner.next();
        }
        if first.is_some() && second.is_none() {
            *second = self.inner.next();
        }
        let (Some(hi), Some(lo)) = (*first, *second) else {
            return Some(Spanned { fresh: false, ..at });
        };
        match (hex_digit(hi.byte), hex_digit(lo.byte)) {
            (Some(h), Some(l)) => {
                *first = None;
                *second = None;
                Some(Spanned {
                    byte: (h << 4) | l,
                    start: at.start,
                    end: lo.end,
                    fresh: true,
                })
            }
            _ => Some(Spanned { fresh: false, ..at }),
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

    /// `KEY`'s bytes, each `%XX` where `encode(i)` holds (upper-case hex with `upper`).
    fn percent(key: &str, upper: bool, encode: impl Fn(usize) -> bool) -> String {
        key.bytes()
            .enumerate()
            .map(|(i, b)| match (encode(i), upper) {
                (true, true) => format!("%{b:02X}"),
                (true, false) => format!("%{b:02x}"),
                (false, _) => char::from(b).to_string(),
            })
            .collect()
    }

    /// The key percent-encoded, every byte (either case) or one byte in three (no 8 literal
    /// characters left), or encoded two or three times (`%2573`), as client-glue decodes a
    /// header: the run goes, the text around it stays; so does a piece of 8 encoded. A
    /// piece of 7 encoded, a `%` that escapes nothing, an ordinary encoded URL stay.
    #[test]
    fn a_percent_encoded_echo_is_redacted() {
        let s = Scrubber::new(KEY);
        let upper = percent(KEY, true, |_| true);
        let twice = upper.replace('%', "%25");
        let thrice = twice.replace('%', "%25");
        let forms = [
            percent(KEY, false, |_| true),
            upper,
            percent(KEY, true, |i| i % 3 == 0),
            twice,
            thrice,
        ];
        for encoded in forms {
            let text = format!("bad token {encoded}!");
            assert_eq!(s.scrub(&text), "bad token [redacted]!", "{encoded}");
            assert!(s.finds_secret_in(&text), "{encoded}");
        }
        let eight = percent(&KEY[..8], false, |_| true);
        assert_eq!(s.scrub(&format!("x {eight} y")), "x [redacted] y");
        let seven = percent(&KEY[..7], false, |_| true);
        for kept in [
            seven.as_str(),
            "100% fine %zz %",
            "https://cdn.example.com/a%20b.mp3?x=%2F1",
        ] {
            assert_eq!(s.scrub(kept), kept);
            assert!(!s.finds_secret_in(kept), "{kept}");
        }
    }

    /// The key base64-encoded (standard or URL-safe, padded or not) after 0, 1 or 2 other
    /// bytes, which decide how its bytes fall into groups of three (`user:key` in a Basic
    /// header, say), and before 0 to 2; or hex-encoded in either case: the run goes. Of the
    /// encoding, only characters the neighbouring bytes decide may stay: at most 3 before
    /// and 4 after (and the padding).
    #[test]
    fn a_base64_or_hex_echo_is_redacted() {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE};
        let s = Scrubber::new(KEY);
        for prefix in ["", "u", "u:"] {
            for suffix in ["", "!", "!?"] {
                let data = format!("{prefix}{KEY}{suffix}");
                for encoded in [
                    STANDARD.encode(&data),
                    STANDARD_NO_PAD.encode(&data),
                    URL_SAFE.encode(&data),
                ] {
                    let out = s.scrub(&format!("auth {encoded} end")).into_owned();
                    let kept = out
                        .strip_prefix("auth ")
                        .and_then(|o| o.strip_suffix(" end"));
                    let split = kept.and_then(|k| k.split_once(REDACTED));
                    assert!(
                        split.is_some_and(|(head, tail)| head.len() <= 3
                            && tail.trim_end_matches('=').len() <= 4
                            && !tail.contains(REDACTED)),
                        "{data:?} {encoded} -> {out}"
                    );
                }
            }
        }
        let hex: String = KEY.bytes().map(|b| format!("{b:02x}")).collect();
        for encoded in [hex.clone(), hex.to_ascii_uppercase()] {
            assert_eq!(s.scrub(&format!("k={encoded};")), "k=[redacted];");
        }
        // A piece of 8: 16 hex digits.
        assert_eq!(s.scrub(&format!("k={}.", &hex[6..22])), "k=[redacted].");
        // The key in another case is the key, encoded too: a proxy that upper-cases the
        // header and dumps it in hex, base64 of `Bearer ` and the key lower-cased.
        let s = Scrubber::new("sk-Live-AbCdEf0123456789");
        assert_eq!(
            s.scrub("534b2d4c4956452d41424344454630313233343536373839"),
            REDACTED
        );
        let out = s
            .scrub(&STANDARD.encode("Bearer sk-live-abcdef0123456789"))
            .into_owned();
        assert!(
            out.starts_with("QmVhcmVyI") && out.len() <= 9 + REDACTED.len() + 4,
            "{out}"
        );
        let out = s
            .scrub(&STANDARD.encode("SK-LIVE-ABCDEF0123456789"))
            .into_owned();
        assert!(out.len() <= REDACTED.len() + 4, "{out}");
    }

    /// Text that is hex, base64 or percent-encoded but not the key stays as it is: a
    /// SHA-256, a UUID, base64 of other text, a JWT-shaped token, a percent-encoded path; so
    /// does any encoding of 7 characters of the key (as 7 literal characters do), in base64
    /// between bytes that are not the key's own.
    #[test]
    fn ordinary_encoded_text_and_encoded_pieces_of_seven_are_kept() {
        use base64::Engine as _;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let s = Scrubber::new(KEY);
        let mut kept = vec![
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".to_owned(),
            "E3B0C442-98FC-1C14-9AFB-F4C8996FB924".to_owned(),
            STANDARD.encode("Hello there, this is ordinary text in base64."),
            format!(
                "{}.{}.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
                URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#),
                URL_SAFE_NO_PAD.encode(r#"{"sub":"user-42","iat":1516239022}"#)
            ),
            "/voices/%E4%BD%A0%E5%A5%BD/preview%20one.mp3?a=1%26b%3D2".to_owned(),
            "The quick brown fox jumps over the lazy dog; informationally speaking.".to_owned(),
        ];
        let key = KEY.as_bytes();
        for at in 0..=KEY.len() - 7 {
            let seven = &KEY[at..at + 7];
            kept.push(seven.bytes().map(|b| format!("{b:02x}")).collect());
            kept.push(percent(seven, true, |_| true));
            // In base64, the bytes beside them differ from the key's own in every bit a
            // character shares with them: a neighbour repeating 4 of those bits would make
            // 60 bits of the key, a piece.
            let before = at
                .checked_sub(1)
                .and_then(|i| key.get(i))
                .map_or(b'u', |b| b ^ 0x0f);
            let after = key.get(at + 7).map_or(b'!', |b| b ^ 0xf0);
            for fill in [&b""[..], b"u", b"u:"] {
                let data = [fill, &[before], seven.as_bytes(), &[after], b"?"].concat();
                kept.push(STANDARD.encode(&data));
                kept.push(URL_SAFE_NO_PAD.encode(&data));
            }
        }
        for text in &kept {
            assert_eq!(s.scrub(text), text.as_str());
            assert!(!s.finds_secret_in(text), "{text}");
        }
    }

    /// A returned URL holding the key percent-encoded, in base64 or hex in its query (a
    /// JimmyAI `audioUrl`) is scrubbed by the text filter, and stays a URL.
    #[test]
    fn a_url_holding_an_encoded_key_in_its_query_is_scrubbed() {
        use base64::Engine as _;
        let s = Arc::new(Scrubber::new(KEY));
        let f = text_filter(&s);
        let hex: String = KEY.bytes().map(|b| format!("{b:02X}")).collect();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(KEY);
        for sig in [percent(KEY, true, |_| true), hex, b64] {
            let url = format!("https://cdn.example.com/a.mp3?sig={sig}&e=1");
            let out = decoding_with(&f, || server_string(url.clone()));
            assert_eq!(
                out, "https://cdn.example.com/a.mp3?sig=[redacted]&e=1",
                "{url}"
            );
            assert!(url::Url::parse(&out).is_ok(), "{out}");
        }
    }

    proptest::proptest! {
        /// Any mix of pieces of the key (as they are, percent-encoded in part, hex, base64),
        /// stray `%`, hex digits and other text: scrubbing never fails, keeps the text valid,
        /// leaves no piece the scrubber itself would find, and a second pass changes nothing.
        #[test]
        fn scrubbed_text_holds_no_piece_and_scrubs_to_itself(
            parts in proptest::collection::vec(
                (0usize..KEY.len(), 1usize..KEY.len(), 0u8..6, "[a-f0-9%é =+/]{0,4}"),
                0..6,
            ),
        ) {
            use base64::Engine as _;
            let mut text = String::new();
            for (at, len, how, filler) in parts {
                let piece = KEY.get(at..(at + len).min(KEY.len())).unwrap_or_default();
                match how {
                    0 => text.push_str(piece),
                    1 => text.push_str(&percent(piece, at % 2 == 0, |i| i % 2 == 0)),
                    2 => text.push_str(&percent(piece, true, |_| true).replace('%', "%25")),
                    3 => piece.bytes().for_each(|b| text.push_str(&format!("{b:02X}"))),
                    4 => text.push_str(&base64::engine::general_purpose::STANDARD.encode(piece)),
                    _ => text.push_str(&filler.repeat(2)),
                }
                text.push_str(&filler);
            }
            let s = Scrubber::new(KEY);
            let once = s.scrub(&text).into_owned();
            proptest::prop_assert!(!s.finds_secret_in(&once), "{text:?} -> {once:?}");
            proptest::prop_assert_eq!(s.scrub(&once), once.as_str());
        }
    }

    /// A hostile answer: the key repeated, with one escape so that the decoded pass runs.
    /// Each piece the text holds as it is is handed on once, by the pass over the text as it
    /// is; the three decodings hand on only pieces holding a byte they decoded (so nothing
    /// grows with the text but the text's own bitmap), and the first piece can stop it all.
    #[test]
    fn a_repeated_key_with_one_escape_is_not_found_again_by_the_decodings() {
        let s = Scrubber::new(KEY);
        let repeated = KEY.repeat(2000);
        let text = format!("{repeated}%41");
        let count = |text: &str| {
            let mut n = 0usize;
            s.each_piece(text, |_, _| {
                n += 1;
                true
            });
            n
        };
        let plain = count(&repeated);
        assert_eq!(plain, 2000 * (KEY.len() - MIN_PIECE + 1));
        let all = count(&text);
        assert!(
            all <= plain + 3 * 16,
            "{all} pieces for {plain} in the plain text"
        );
        assert_eq!(s.scrub(&text), format!("{REDACTED}%41"));
        // Stopping at the first piece: the decodings' as well.
        let encoded = format!("x {}", percent(KEY, true, |_| true)).repeat(100);
        let mut calls = 0;
        s.each_piece(&encoded, |_, _| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1);
    }

    #[test]
    fn the_filter_is_scoped() {
        let f = text_filter(&Arc::new(Scrubber::new(KEY)));
        let inside = decoding_with(&f, || server_string(format!("a{KEY}")));
        assert_eq!(inside, "a[redacted]");
        assert_eq!(server_string(KEY.to_owned()), KEY);
    }
}
