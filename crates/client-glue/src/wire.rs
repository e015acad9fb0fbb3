//! Lenient wire types. `cargo xtask codegen` puts them where the specs' answers hold codes,
//! strings, numbers and free-form values, because vendors send these loosely (a code as
//! `20000` or `"20000"`, an id as a string or a number) and an answer must never fail to
//! decode, or change an id, over it.
//!
//! Each reads anything without failing: what does not fit is `None`, and the rest of the
//! answer still decodes. Strings and numbers are read as raw JSON text, never through `f64`.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A function every [`Text`] passes through as it is decoded, and every string inside a
/// [`RawJson`] (the `voiceclone` adapter removes its API key from everything a server says
/// with one).
pub type TextFilter = Arc<dyn Fn(String) -> String + Send + Sync>;

thread_local! {
    static TEXT_FILTER: RefCell<Option<TextFilter>> = const { RefCell::new(None) };
}

/// Applies the active text filter (see [`with_text_filter`]) to `text`.
pub fn filter_text(text: String) -> String {
    TEXT_FILTER.with(|f| match f.borrow().as_ref() {
        Some(filter) => filter(text),
        None => text,
    })
}

/// What a string of a [`RawJson`] that does not decode (a lone surrogate escape) becomes when
/// a text filter is active (a JSON string literal).
pub const UNDECODABLE: &str = "\"[undecodable string]\"";

/// `raw` with the active text filter (if any) applied to every string in it (object keys
/// included), each decoded, filtered and written back as JSON, and a string that does not
/// decode replaced with [`UNDECODABLE`]; everything else (numbers with all their digits,
/// layout) is kept as it is. Without a filter, or when the filter changes nothing, `raw`
/// itself.
fn filter_raw(raw: Box<RawValue>) -> Box<RawValue> {
    let Some(filter) = TEXT_FILTER.with(|f| f.borrow().clone()) else {
        return raw;
    };
    match rewrite_json_text(raw.get(), &*filter, JsonRewrite::default()) {
        None => raw,
        // Strings replaced by strings: still valid JSON. Should it not be, nothing of the
        // original is kept (it held something the filter removes).
        Some(text) => RawValue::from_string(text).unwrap_or_else(|_| RawValue::NULL.to_owned()),
    }
}

/// What [`rewrite_json_text`] passes through its filter besides strings, and how it writes
/// strings back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JsonRewrite {
    /// Numbers pass through the filter too (as their text); one the filter changes is
    /// written as a JSON string of the filtered text (a key made of digits, echoed as a
    /// number).
    pub numbers: bool,
    /// Every string literal is written back as serde_json writes strings (escaping only
    /// what JSON requires) where its text differs, so that a text search finds what `\u`
    /// escapes spelled.
    pub normalize: bool,
}

/// `text` (valid JSON) with every string literal (object keys included) decoded, passed
/// through `filter` and written back as a JSON string where the filter changed it (or,
/// with [`JsonRewrite::normalize`], where its text differs), numbers too with
/// [`JsonRewrite::numbers`]; a literal that does not decode (a lone surrogate escape, which
/// JSON text may hold) cannot be searched and is replaced with [`UNDECODABLE`]. Token by
/// token rather than through a `serde_json::Value`, so that the rest keeps its exact text
/// (an id beyond `u64` keeps its digits). `None` when nothing changes.
pub fn rewrite_json_text(
    text: &str,
    filter: &dyn Fn(String) -> String,
    how: JsonRewrite,
) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    // `out` holds `text[..copied]`, changed where a token was.
    let (mut copied, mut i) = (0usize, 0usize);
    let mut replace = |out: &mut String, start: usize, end: usize, with: &str| {
        out.push_str(text.get(copied..start).unwrap_or_default());
        out.push_str(with);
        copied = end;
    };
    while let Some(&b) = bytes.get(i) {
        let start = i;
        if b == b'"' {
            i = end_of_string(bytes, i);
            let literal = text.get(start..i).unwrap_or_default();
            let Ok(decoded) = serde_json::from_str::<String>(literal) else {
                replace(&mut out, start, i, UNDECODABLE);
                continue;
            };
            let filtered = filter(decoded.clone());
            // A string the filter left alone keeps its text (its escapes too), unless
            // normalizing.
            if filtered == decoded && !how.normalize {
                continue;
            }
            let written = serde_json::to_string(&filtered).unwrap_or_else(|_| "null".into());
            if written != literal {
                replace(&mut out, start, i, &written);
            }
        } else if how.numbers && (b == b'-' || b.is_ascii_digit()) {
            while bytes.get(i).is_some_and(|c| {
                c.is_ascii_digit() || matches!(c, b'-' | b'+' | b'.' | b'e' | b'E')
            }) {
                i = i.saturating_add(1);
            }
            let token = text.get(start..i).unwrap_or_default();
            let filtered = filter(token.to_owned());
            if filtered != token {
                let written = serde_json::to_string(&filtered).unwrap_or_else(|_| "null".into());
                replace(&mut out, start, i, &written);
            }
        } else {
            i = i.saturating_add(1);
        }
    }
    if copied == 0 {
        return None;
    }
    out.push_str(text.get(copied..).unwrap_or_default());
    Some(out)
}

/// The index just past the string literal opening at `open` (a `"`), or the text's end.
fn end_of_string(bytes: &[u8], open: usize) -> usize {
    let mut i = open.saturating_add(1);
    loop {
        match bytes.get(i) {
            Some(b'\\') => i = i.saturating_add(2),
            Some(b'"') => return i.saturating_add(1),
            Some(_) => i = i.saturating_add(1),
            None => return bytes.len(),
        }
    }
}

/// Runs `decode` with `filter` applied to every [`Text`] decoded meanwhile on this thread.
pub fn with_text_filter_sync<R>(filter: &TextFilter, decode: impl FnOnce() -> R) -> R {
    let _restore = FilterScope::enter(filter);
    decode()
}

/// The filter in force before [`with_text_filter_sync`], put back when it ends (panics
/// included). Its two halves are not inlined: the function above is compiled once per
/// decoded type, and only the call to `decode` needs to be.
struct FilterScope(Option<TextFilter>);

impl FilterScope {
    #[inline(never)]
    fn enter(filter: &TextFilter) -> Self {
        Self(TEXT_FILTER.with(|f| f.replace(Some(Arc::clone(filter)))))
    }
}

impl Drop for FilterScope {
    #[inline(never)]
    fn drop(&mut self) {
        let previous = self.0.take();
        TEXT_FILTER.with(|f| *f.borrow_mut() = previous);
    }
}

/// `future`, with `filter` applied to every [`Text`] decoded while it is polled: wrap a
/// generated client's call in it and every string of its answer is filtered as it is read.
pub fn with_text_filter<F: Future>(filter: TextFilter, future: F) -> TextFiltered<F> {
    TextFiltered {
        filter: Some(filter),
        inner: Box::pin(future),
    }
}

/// See [`with_text_filter`].
pub struct TextFiltered<F> {
    filter: Option<TextFilter>,
    inner: Pin<Box<F>>,
}

impl<F> fmt::Debug for TextFiltered<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TextFiltered")
    }
}

impl<F: Future> Future for TextFiltered<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        // The filter is active on this thread only while the inner future is polled.
        let previous = TEXT_FILTER.with(|f| f.replace(this.filter.take()));
        let out = this.inner.as_mut().poll(cx);
        this.filter = TEXT_FILTER.with(|f| f.replace(previous));
        out
    }
}

/// The JSON text of one value, or nothing for `null` (read leniently by the types below).
fn raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Option::<Box<RawValue>>::deserialize(d)
}

fn is_number(text: &str) -> bool {
    matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9'))
}

/// The text of a string value without its quotes, when it holds no escape (then it is the
/// string itself, without a second parse); `None` for anything else.
fn unescaped_inner(text: &str) -> Option<&str> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    (!inner.bytes().any(|b| b == b'\\')).then_some(inner)
}

/// An integer from a number or a numeric string (`20000`, `"20000"`, `20000.0`).
fn integer(text: &str) -> Option<i64> {
    let text = text.trim();
    if !text.starts_with('"') {
        return integer_in(text);
    }
    match unescaped_inner(text) {
        Some(inner) => integer_in(inner),
        None => integer_in(&serde_json::from_slice::<String>(text.as_bytes()).ok()?),
    }
}

/// A number's text read as a JSON number (`-1.5e3`, surrounding whitespace allowed; not
/// `+1`, `.5`, `1.`, `inf` or `NaN`, and `None` beyond `f64`'s range), by serde_json's own
/// parser: `str::parse::<f64>` would link a second one (core's, with 14 KB of tables) into
/// every program that makes a call (issue 17 measures a one-call program's binary).
pub fn parse_f64(text: &str) -> Option<f64> {
    serde_json::from_slice::<f64>(text.as_bytes()).ok()
}

/// The integer a number's text (or a string's content) says, if it is an exact one.
fn integer_in(text: &str) -> Option<i64> {
    let inner = text.trim();
    if let Ok(i) = inner.parse::<i64>() {
        return Some(i);
    }
    let f: f64 = parse_f64(inner)?;
    // Only exact integers: beyond 2^53 a float no longer says which integer it was.
    (f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0).then_some(f as i64)
}

/// A vendor's business `code`: success is a number (VMEG `200`, JimmyAI `20000`), sent as a
/// JSON number or a numeric string. Anything else reads as `None`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Code(pub Option<i64>);

impl Code {
    /// The code, when it was a number or a numeric string.
    pub fn value(&self) -> Option<i64> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Code(raw(d)?.and_then(|r| integer(r.get()))))
    }
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl From<i64> for Code {
    fn from(v: i64) -> Self {
        Code(Some(v))
    }
}

/// A string, or a number kept as its exact text (`123456789012345678901234567890` stays that
/// digit for digit); `None` for anything else (bool, object, array, null).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Text(pub Option<String>);

impl Text {
    /// The text, if the value was a string or a number.
    pub fn as_str(&self) -> Option<&str> {
        self.0.as_deref()
    }

    /// The text, if the value was a string or a number.
    pub fn into_string(self) -> Option<String> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Some(r) = raw(d)? else {
            return Ok(Text(None));
        };
        // The raw value's own allocation becomes the string: one allocation per string.
        let mut text = String::from(Box::<str>::from(r));
        let value = if text.starts_with('"') {
            if unescaped_inner(&text).is_some() {
                // Without escapes the string is the text between the quotes: no second parse.
                text.pop();
                text.remove(0);
                Some(text)
            } else {
                serde_json::from_slice::<String>(text.as_bytes()).ok()
            }
        } else if is_number(&text) {
            Some(text)
        } else {
            None
        };
        Ok(Text(value.map(filter_text)))
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_deref().unwrap_or_default())
    }
}

impl From<String> for Text {
    fn from(v: String) -> Self {
        Text(Some(v))
    }
}

impl From<&str> for Text {
    fn from(v: &str) -> Self {
        Text(Some(v.to_owned()))
    }
}

/// An integer sent as a number or a numeric string; `None` for anything else or for a number
/// that is not an exact integer within `i64`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Int(pub Option<i64>);

impl Int {
    /// The integer, if there was one.
    pub fn value(&self) -> Option<i64> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Int(raw(d)?.and_then(|r| integer(r.get()))))
    }
}

impl Serialize for Int {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl From<i64> for Int {
    fn from(v: i64) -> Self {
        Int(Some(v))
    }
}

/// A finite number sent as a number or a numeric string; `None` for anything else.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Number(pub Option<f64>);

impl Number {
    /// The number, if there was a finite one.
    pub fn value(&self) -> Option<f64> {
        self.0
    }
}

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = raw(d)?.and_then(|r| {
            let text = r.get();
            if !text.starts_with('"') {
                return parse_f64(text);
            }
            match unescaped_inner(text) {
                Some(inner) => parse_f64(inner),
                None => parse_f64(&serde_json::from_slice::<String>(text.as_bytes()).ok()?),
            }
        });
        Ok(Number(value.filter(|f| f.is_finite())))
    }
}

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A value of unknown shape, kept as its JSON text (so its numbers keep their digits); read
/// it with `serde_json::from_str(raw.get())` into whatever shape is expected. Every string in
/// it passes through the active text filter (see [`with_text_filter`]) as it is decoded.
#[derive(Clone, Debug, Default)]
pub struct RawJson(pub Option<Box<RawValue>>);

impl RawJson {
    /// The JSON text (`null` when there was none).
    pub fn get(&self) -> &str {
        self.0.as_deref().map_or("null", RawValue::get)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(RawJson(raw(d)?.map(filter_raw)))
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// A list in an answer: `null`, a missing field or a value that is not an array reads as an
/// empty list, and an element that is `null`, holds bytes that are not UTF-8 or does not
/// decode as `T` is skipped (logged at `debug`/`warn` by kind and position, never by value:
/// a value may echo a secret), so one odd record never fails the whole answer. The kept
/// elements stay in order.
///
/// [`List::sent`] says how many elements the vendor sent, skipped ones included: a caller
/// that pages through a list counts those, so that a page whose records were skipped does
/// not look shorter (or emptier) than the vendor made it.
///
/// At most [`MAX_LIST_ELEMENTS`] elements are decoded and kept; the rest are counted in
/// [`List::sent`] only, and [`List::is_truncated`] says so: a caller for whom the list is
/// the whole of something (a page of a listing) must then not read it as complete.
///
/// It reads as a slice (`Deref<Target = [T]>`); [`List::into_vec`] gives the elements. It
/// is written as a JSON array of the kept elements.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct List<T> {
    items: Vec<T>,
    sent: usize,
    /// The positions (in the answer's array) of the elements not kept, in order (those past
    /// [`MAX_LIST_ELEMENTS`] excepted: they are only counted).
    skipped_at: Vec<usize>,
    shape: Shape,
}

/// The most elements of one list in an answer that are decoded and kept (10,000): 500 times
/// the largest page this crate's callers ask VMEG for (its default, 20), 100 times a batch
/// of presigned part URLs, 200 times a task's TTS lines. A 4 MiB body of `{}` elements is
/// some 1.4 million of them, each decoded into a record of every field absent (100-200
/// bytes): kept, one page would hold hundreds of megabytes. Past the bound, elements are
/// counted without being decoded ([`List::is_truncated`]).
pub const MAX_LIST_ELEMENTS: usize = 10_000;

/// What the answer held where the list was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Shape {
    /// `null` or nothing.
    Absent,
    /// An array (or a list built in code).
    Array,
    /// Something else (an object, a string, a number...).
    Other,
}

impl<T> List<T> {
    /// An empty list.
    pub const fn new() -> Self {
        List {
            items: Vec::new(),
            sent: 0,
            skipped_at: Vec::new(),
            shape: Shape::Absent,
        }
    }

    /// Where, in the answer's array, the skipped elements were: a caller matching elements
    /// to what it asked for by position (one result per line) puts each kept element back
    /// in its place with these.
    pub fn skipped_at(&self) -> &[usize] {
        &self.skipped_at
    }

    /// Whether the answer held something other than an array, `null` or nothing here: read
    /// as empty, but a caller for whom an empty list means "there is none" (a listing that
    /// decides whether a task exists) should not take it at its word.
    pub fn is_malformed(&self) -> bool {
        self.shape == Shape::Other
    }

    /// Whether the answer held an array here, empty or not (a list built in code counts as
    /// one): `false` for `null`, a missing field, or a value that is not an array. A caller
    /// for whom an empty list means "there is none" can take only an empty array at its word.
    pub fn is_array(&self) -> bool {
        self.shape == Shape::Array
    }

    /// Whether the array held more than [`MAX_LIST_ELEMENTS`] elements: those past it were
    /// counted in [`List::sent`] but neither decoded nor kept, so the list is incomplete.
    pub fn is_truncated(&self) -> bool {
        self.sent > MAX_LIST_ELEMENTS
    }

    /// How many elements were kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no element was kept.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The kept elements.
    pub fn as_slice(&self) -> &[T] {
        &self.items
    }

    /// The kept elements, in the order they were sent.
    pub fn into_vec(self) -> Vec<T> {
        self.items
    }

    /// How many elements the answer's array held, skipped ones included (0 when the value
    /// was `null`, missing or not an array). For a list built in code, its length.
    pub fn sent(&self) -> usize {
        self.sent
    }

    /// How many elements were not kept: `null`, not decodable as `T`, or past
    /// [`MAX_LIST_ELEMENTS`].
    pub fn skipped(&self) -> usize {
        self.sent.saturating_sub(self.items.len())
    }
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List::new()
    }
}

impl<T> std::ops::Deref for List<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.items
    }
}

impl<T> AsRef<[T]> for List<T> {
    fn as_ref(&self) -> &[T] {
        &self.items
    }
}

impl<T> From<Vec<T>> for List<T> {
    fn from(items: Vec<T>) -> Self {
        let sent = items.len();
        List {
            items,
            sent,
            skipped_at: Vec::new(),
            shape: Shape::Array,
        }
    }
}

impl<T> From<List<T>> for Vec<T> {
    fn from(list: List<T>) -> Self {
        list.items
    }
}

impl<T> FromIterator<T> for List<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        List::from(iter.into_iter().collect::<Vec<T>>())
    }
}

impl<T> IntoIterator for List<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.into_iter()
    }
}

impl<'a, T> IntoIterator for &'a List<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.items.iter()
    }
}

impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ListVisitor(std::marker::PhantomData))
    }
}

/// Reads any JSON value as a [`List`]: an array element by element, anything else as empty.
struct ListVisitor<T>(std::marker::PhantomData<T>);

impl<T> ListVisitor<T> {
    fn not_an_array<E>(kind: &'static str) -> Result<List<T>, E> {
        tracing::warn!(
            target: "client_glue::wire",
            element = std::any::type_name::<T>(),
            found = kind,
            "a list in an answer was not an array; read as empty"
        );
        Ok(List {
            shape: Shape::Other,
            ..List::new()
        })
    }
}

/// Whether capturing an element failed only because its bytes are not UTF-8: serde_json
/// checks a captured value's bytes once it has read the value to its end (reading skips
/// strings unchecked), so the array reads on from the next element. Known by its message:
/// the visitor serves any deserializer, whose error type names no category (pinned by a
/// test against the serde_json in use).
fn not_utf8(e: &impl fmt::Display) -> bool {
    e.to_string().starts_with("invalid unicode code point")
}

impl<'de, T: serde::de::DeserializeOwned> serde::de::Visitor<'de> for ListVisitor<T> {
    type Value = List<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value (an array is read element by element)")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<List<T>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        let mut sent = 0usize;
        let mut skipped_at = Vec::new();
        let mut first_error = None;
        // Each element is captured as its JSON text first, so that one that does not decode
        // as `T` is skipped without failing the rest (a JSON syntax error still fails).
        loop {
            let element = match seq.next_element::<Option<Box<RawValue>>>() {
                Ok(Some(element)) => Ok(element),
                Ok(None) => break,
                // An element whose bytes are not UTF-8 (a name in GBK or Latin-1) cannot be
                // captured as text, but was read to its end (see [`not_utf8`]): one element
                // that does not decode, not a broken answer.
                Err(e) if not_utf8(&e) => Err(serde_json::error::Category::Syntax),
                Err(e) => return Err(e),
            };
            let index = sent;
            sent = sent.saturating_add(1);
            if index >= MAX_LIST_ELEMENTS {
                // Counted, not decoded; the rest of the array too, without even its text.
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    sent = sent.saturating_add(1);
                }
                tracing::warn!(
                    target: "client_glue::wire",
                    element = std::any::type_name::<T>(),
                    sent,
                    kept_at_most = MAX_LIST_ELEMENTS,
                    "a list in an answer has more elements than are read; the rest were counted, not kept"
                );
                break;
            }
            let decoded = element.map(|e| e.map(|e| serde_json::from_str::<T>(e.get())));
            match decoded {
                Ok(Some(Ok(item))) => items.push(item),
                Ok(Some(Err(e))) => {
                    first_error.get_or_insert(e.classify());
                    skipped_at.push(index);
                }
                Err(category) => {
                    first_error.get_or_insert(category);
                    skipped_at.push(index);
                }
                Ok(None) => skipped_at.push(index),
            }
        }
        // One line per list, not per element: a body of a million bad elements must not
        // become a million log lines. Only the kind of error is logged: its text may quote
        // the value, and a value may echo a secret.
        if !skipped_at.is_empty() {
            tracing::warn!(
                target: "client_glue::wire",
                element = std::any::type_name::<T>(),
                skipped = skipped_at.len(),
                sent,
                first_at = skipped_at.first().copied(),
                error = ?first_error,
                "elements of a list in an answer were null or did not decode; skipped"
            );
        }
        Ok(List {
            items,
            sent,
            skipped_at,
            shape: Shape::Array,
        })
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<List<T>, E> {
        Ok(List::new())
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<List<T>, E> {
        Ok(List::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<List<T>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<List<T>, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<List<T>, A::Error> {
        use serde::de::IgnoredAny;
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Self::not_an_array("an object")
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<List<T>, E> {
        Self::not_an_array("a boolean")
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<List<T>, E> {
        Self::not_an_array("a number")
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<List<T>, E> {
        Self::not_an_array("a number")
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<List<T>, E> {
        Self::not_an_array("a number")
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<List<T>, E> {
        Self::not_an_array("a number")
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<List<T>, E> {
        Self::not_an_array("a number")
    }

    fn visit_str<E: serde::de::Error>(self, _: &str) -> Result<List<T>, E> {
        Self::not_an_array("a string")
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<List<T>, E> {
        Self::not_an_array("bytes")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Deserialize, Debug)]
    struct Probe {
        code: Code,
        #[serde(default)]
        id: Option<Text>,
        #[serde(default)]
        n: Option<Int>,
        #[serde(default)]
        f: Option<Number>,
        #[serde(default)]
        any: Option<RawJson>,
        #[serde(default)]
        after: Option<String>,
    }

    fn probe(json: &str) -> Probe {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn codes_from_numbers_strings_and_floats() {
        for (json, want) in [
            ("200", Some(200)),
            ("\"20000\"", Some(20000)),
            ("\" 200 \"", Some(200)),
            ("200.0", Some(200)),
            ("-1", Some(-1)),
            ("true", None),
            ("{}", None),
            ("null", None),
            ("1e400", None),
            ("18446744073709551616", None),
        ] {
            let p = probe(&format!(r#"{{"code":{json},"after":"x"}}"#));
            assert_eq!(
                (p.code.value(), p.after.as_deref()),
                (want, Some("x")),
                "{json}"
            );
        }
    }

    #[test]
    fn text_keeps_numbers_exactly_and_refuses_other_shapes() {
        let big = "123456789012345678901234567890123";
        let p = probe(&format!(r#"{{"code":1,"id":{big}}}"#));
        assert_eq!(p.id.unwrap().as_str(), Some(big));
        let p = probe(r#"{"code":1,"id":"\u0041b"}"#);
        assert_eq!(p.id.unwrap().as_str(), Some("Ab"));
        for other in ["true", "[1]", r#"{"a":1}"#] {
            let p = probe(&format!(r#"{{"code":1,"id":{other},"after":"x"}}"#));
            assert_eq!(p.id.unwrap().as_str(), None, "{other}");
            assert_eq!(p.after.as_deref(), Some("x"));
        }
        assert!(probe(r#"{"code":1,"id":null}"#).id.is_none());
    }

    #[test]
    fn a_text_filter_applies_while_active_only() {
        let filter: TextFilter = Arc::new(|s: String| s.replace("secret", "[x]"));
        let p = with_text_filter_sync(&filter, || probe(r#"{"code":1,"id":"my secret"}"#));
        assert_eq!(p.id.unwrap().as_str(), Some("my [x]"));
        let p = probe(r#"{"code":1,"id":"my secret"}"#);
        assert_eq!(p.id.unwrap().as_str(), Some("my secret"));
    }

    /// The strings of a raw value (keys too, escaped ones too) pass through the filter; its
    /// numbers and everything else are kept as they were.
    #[test]
    fn a_text_filter_reaches_raw_values() {
        let filter: TextFilter = Arc::new(|s: String| s.replace("secret", "[x]"));
        let json = r#"{"code":1,"any":{"a":"my secret","big":98765432109876543210,"l":["s\u0065cret\"q",1],"secret":true,"n":"plain"}}"#;
        let p = with_text_filter_sync(&filter, || probe(json));
        assert_eq!(
            p.any.unwrap().get(),
            r#"{"a":"my [x]","big":98765432109876543210,"l":["[x]\"q",1],"[x]":true,"n":"plain"}"#
        );
        // Nothing to change, or no filter: the text as it came.
        let p = with_text_filter_sync(&filter, || probe(r#"{"code":1,"any":{"a" : "b\n"}}"#));
        assert_eq!(p.any.unwrap().get(), r#"{"a" : "b\n"}"#);
        let p = probe(r#"{"code":1,"any":"my secret"}"#);
        assert_eq!(p.any.unwrap().get(), r#""my secret""#);
        // A string no decoder accepts (a lone surrogate) cannot be filtered: replaced whole,
        // as a value and as a key; the rest is filtered as usual and stays valid JSON.
        let json = r#"{"code":1,"any":{"x":"my secret\ud800","my secret\udc00":"secret"}}"#;
        let p = with_text_filter_sync(&filter, || probe(json));
        let raw = p.any.unwrap();
        assert!(!raw.get().contains("secret"), "{}", raw.get());
        assert_eq!(
            raw.get(),
            format!(r#"{{"x":{UNDECODABLE},{UNDECODABLE}:"[x]"}}"#)
        );
        assert!(serde_json::from_str::<serde_json::Value>(raw.get()).is_ok());
    }

    /// Normalizing writes escaped strings plainly (so a search finds what `\u` escapes
    /// spelled), keeps numbers, layout and plain strings exactly, and replaces a string that
    /// does not decode; with `numbers`, a number the filter changes becomes a string.
    #[test]
    fn rewriting_json_text_normalizes_and_filters_numbers_on_request() {
        let keep = |s: String| s;
        let normalize = JsonRewrite {
            numbers: false,
            normalize: true,
        };
        let text = r#"{"k": "\u0073k-\u006cive", "id": 98765432109876543210, "p": "a \"b\" é", "bad": "x\ud800"}"#;
        let out = rewrite_json_text(text, &keep, normalize).unwrap();
        assert_eq!(
            out,
            format!(
                r#"{{"k": "sk-live", "id": 98765432109876543210, "p": "a \"b\" é", "bad": {UNDECODABLE}}}"#
            )
        );
        assert!(serde_json::from_str::<serde_json::Value>(&out).is_ok());
        assert_eq!(
            rewrite_json_text(r#"{"a": [1, "b"]}"#, &keep, normalize),
            None
        );
        // Numbers: left alone unless asked; then a changed one is written as a string.
        let digits = |s: String| s.replace("9876", "[x]");
        let text = r#"{"n": 98765, "m": -1.5e3, "s": "9876"}"#;
        assert_eq!(
            rewrite_json_text(text, &digits, JsonRewrite::default()).unwrap(),
            r#"{"n": 98765, "m": -1.5e3, "s": "[x]"}"#
        );
        let numbers = JsonRewrite {
            numbers: true,
            normalize: false,
        };
        assert_eq!(
            rewrite_json_text(text, &digits, numbers).unwrap(),
            r#"{"n": "[x]5", "m": -1.5e3, "s": "[x]"}"#
        );
    }

    #[test]
    fn numbers_and_raw_values() {
        let p = probe(r#"{"code":1,"n":"42","f":"1.5","any":{"voiceId":98765432109876543210}}"#);
        assert_eq!(p.n.unwrap().value(), Some(42));
        assert_eq!(p.f.unwrap().value(), Some(1.5));
        assert_eq!(p.any.unwrap().get(), r#"{"voiceId":98765432109876543210}"#);
        let p = probe(r#"{"code":1,"n":1.5,"f":"NaN"}"#);
        assert_eq!((p.n.unwrap().value(), p.f.unwrap().value()), (None, None));
        for (f, want) in [(r#"" 2.5e1 ""#, Some(25.0)), (r#""-0.25""#, Some(-0.25))] {
            let p = probe(&format!(r#"{{"code":1,"f":{f}}}"#));
            assert_eq!(p.f.unwrap().value(), want, "{f}");
        }
    }

    /// Numbers as JSON writes them, nothing else: `str::parse::<f64>` also took `+1`, `.5`,
    /// `1.`, `inf`, `NaN` (and linked core's float parser into every program).
    #[test]
    fn parse_f64_reads_json_numbers_only() {
        for (text, want) in [
            ("0", 0.0),
            ("-1.5", -1.5),
            (" 2e4 ", 20000.0),
            ("20000.0", 20000.0),
            ("1E-2", 0.01),
            ("1e-400", 0.0),
        ] {
            assert_eq!(parse_f64(text), Some(want), "{text}");
        }
        for text in [
            "", "+1", ".5", "1.", "inf", "NaN", "1e400", "0x1", "1 2", "\"1\"",
        ] {
            assert_eq!(parse_f64(text), None, "{text}");
        }
        // A string's content is read as the number unquoted: `"2e4"` is the integer 20000.
        let p = probe(r#"{"code":1,"n":"2e4"}"#);
        assert_eq!(p.n.unwrap().value(), Some(20000));
    }
}

#[cfg(test)]
mod list_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A record as a generated answer type has it: lenient fields, and one strict one.
    #[derive(Deserialize, Serialize, Debug, PartialEq)]
    struct Record {
        #[serde(default)]
        id: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strict: Option<u32>,
    }

    #[derive(Deserialize, Debug)]
    struct Page {
        #[serde(default)]
        records: List<Record>,
        #[serde(default)]
        names: List<Text>,
        total: Option<Int>,
    }

    fn page(json: &str) -> Page {
        serde_json::from_str(json).unwrap()
    }

    fn ids(list: &List<Record>) -> Vec<Option<&str>> {
        list.iter()
            .map(|r| r.id.as_ref().and_then(Text::as_str))
            .collect()
    }

    #[test]
    fn null_missing_or_not_an_array_reads_as_empty_and_the_answer_still_decodes() {
        for records in [
            "null",
            "{}",
            r#"{"a":[1,{"b":null}]}"#,
            r#""x""#,
            "\"\"",
            "0",
            "-1.5",
            "true",
            "false",
            "18446744073709551616",
        ] {
            let p = page(&format!(r#"{{"records":{records},"total":7}}"#));
            assert!(p.records.is_empty(), "{records}");
            assert_eq!((p.records.sent(), p.records.skipped()), (0, 0), "{records}");
            assert_eq!(p.records.is_malformed(), records != "null", "{records}");
            assert_eq!(p.total.and_then(|t| t.value()), Some(7), "{records}");
        }
        // Missing or empty: not malformed.
        assert!(!page(r#"{"total":0}"#).records.is_malformed());
        assert!(!page(r#"{"records":[]}"#).records.is_malformed());
        let p = page(r#"{"total":0}"#);
        assert!(p.records.is_empty() && p.names.is_empty());
        assert_eq!(p.records.sent(), 0);
        let p = page(r#"{"records":[],"names":[]}"#);
        assert!(p.records.is_empty());
        assert_eq!(p.records.sent(), 0);
        // Invalid JSON still fails: only well-formed values are read leniently.
        assert!(serde_json::from_str::<Page>(r#"{"records":[{"id":"a"},]}"#).is_err());
        assert!(serde_json::from_str::<Page>(r#"{"records":[{"id":"a"}"#).is_err());
    }

    #[test]
    fn bad_elements_are_skipped_and_good_ones_kept_in_order() {
        let p = page(
            r#"{"records":[{"id":"a"},null,"x",5,true,{"id":"b","strict":"nope"},{"id":"c","strict":3},{},{"id":12345678901234567890123}],"total":9}"#,
        );
        assert_eq!(
            ids(&p.records),
            [Some("a"), Some("c"), None, Some("12345678901234567890123")]
        );
        assert_eq!(p.records[1].strict, Some(3));
        // Everything sent is counted, the skipped elements included.
        assert_eq!(
            (p.records.len(), p.records.sent(), p.records.skipped()),
            (4, 9, 5)
        );
        // Where the skipped ones were, so a positional caller can put the rest back.
        assert_eq!(p.records.skipped_at(), [1, 2, 3, 4, 5]);
        assert!(!p.records.is_malformed());
        let p = page(r#"{"records":[null],"names":["a",null,12,"b"]}"#);
        assert!(p.records.is_empty());
        assert_eq!((p.records.sent(), p.records.skipped()), (1, 1));
        let names: Vec<_> = p.names.iter().map(Text::as_str).collect();
        assert_eq!(names, [Some("a"), Some("12"), Some("b")]);
        assert_eq!(p.names.sent(), 4);
    }

    /// An element whose bytes are not UTF-8 (in a known field, an unknown one, a nested
    /// one, the last element) is one skipped element, read as bytes and from a reader alike;
    /// the rest of the answer decodes. A list past it that is not JSON still fails.
    #[test]
    fn an_element_that_is_not_utf8_is_skipped_not_a_failed_answer() {
        let body = |records: &[u8]| {
            let mut b = br#"{"records":["#.to_vec();
            b.extend_from_slice(records);
            b.extend_from_slice(br#"],"total":4}"#);
            b
        };
        let mut records = br#"{"id":"a"},{"id":"b"#.to_vec();
        records.push(0xff);
        records.extend_from_slice(br#""},{"id":"c","x":{"y":[""#);
        records.extend_from_slice(&[0xC0, 0xAF]);
        records.extend_from_slice(br#""]}},{"id":"d"}"#);
        let from_slice: Page = serde_json::from_slice(&body(&records)).unwrap();
        let from_reader: Page = serde_json::from_reader(&body(&records)[..]).unwrap();
        for p in [from_slice, from_reader] {
            assert_eq!(ids(&p.records), [Some("a"), Some("d")]);
            assert_eq!((p.records.sent(), p.records.skipped()), (4, 2));
            assert_eq!(p.records.skipped_at(), [1, 2]);
            assert_eq!(p.total.and_then(|t| t.value()), Some(4));
        }
        let mut last = br#"{"id":"a"},"#.to_vec();
        last.extend_from_slice(&[b'"', 0xE9, b'"']);
        let p: Page = serde_json::from_slice(&body(&last)).unwrap();
        assert_eq!((ids(&p.records), p.records.sent()), (vec![Some("a")], 2));
        let mut broken = records.clone();
        broken.extend_from_slice(b",{");
        assert!(serde_json::from_slice::<Page>(&body(&broken)).is_err());
    }

    #[test]
    fn reads_from_a_value_too_and_the_text_filter_reaches_elements() {
        let v = serde_json::json!({"records":[{"id":"a secret"},null,"x"],"names":{"k":1}});
        let p: Page = serde_json::from_value(v).unwrap();
        assert_eq!(ids(&p.records), [Some("a secret")]);
        assert_eq!((p.records.sent(), p.names.sent()), (3, 0));
        let filter: TextFilter = Arc::new(|s: String| s.replace("secret", "[x]"));
        let p = with_text_filter_sync(&filter, || page(r#"{"records":[{"id":"a secret"}]}"#));
        assert_eq!(ids(&p.records), [Some("a [x]")]);
    }

    #[test]
    fn written_as_an_array_of_the_kept_elements_and_built_from_vectors() {
        let p = page(r#"{"records":[{"id":"a"},null,{"id":"b"}]}"#);
        assert_eq!(
            serde_json::to_string(&p.records).unwrap(),
            r#"[{"id":"a"},{"id":"b"}]"#
        );
        assert_eq!(serde_json::to_string(&List::<Text>::new()).unwrap(), "[]");
        let built: List<u32> = vec![1, 2].into();
        assert_eq!((built.sent(), built.skipped()), (2, 0));
        assert_eq!(built.as_slice(), &[1, 2]);
        let back: Vec<u32> = built.clone().into_vec();
        assert_eq!(back, [1, 2]);
        assert_eq!(built.into_iter().sum::<u32>(), 3);
        let collected: List<u32> = (1..=3).collect();
        assert_eq!(collected.len(), 3);
        assert_eq!(List::<u32>::default(), List::new());
        assert!(collected.is_array() && !collected.is_truncated());
    }

    /// `null` and a missing list are not an empty array: a caller that reads "there is none"
    /// from an empty list can tell an answer that said so from one that said nothing.
    #[test]
    fn an_empty_array_is_told_from_null_missing_or_another_shape() {
        assert!(page(r#"{"records":[]}"#).records.is_array());
        assert!(page(r#"{"records":[null]}"#).records.is_array());
        for json in [r#"{"records":null}"#, "{}", r#"{"records":{}}"#] {
            assert!(!page(json).records.is_array(), "{json}");
        }
    }

    /// A record of many fields, every one absent in `{}`: what a generated answer type is.
    #[derive(Deserialize, Debug)]
    #[allow(dead_code)]
    struct Wide {
        #[serde(default)]
        a: Option<Text>,
        #[serde(default)]
        b: Option<Text>,
        #[serde(default)]
        c: Option<Text>,
        #[serde(default)]
        d: Option<Text>,
        #[serde(default)]
        e: Option<Text>,
        #[serde(default)]
        f: Option<Text>,
        #[serde(default)]
        g: Option<Int>,
        #[serde(default)]
        h: Option<Number>,
        #[serde(default)]
        i: Option<RawJson>,
        #[serde(default)]
        j: Option<String>,
    }

    /// 4 MiB of `{}` (some 1.4 million elements, the body cap's worth) decodes into at most
    /// `MAX_LIST_ELEMENTS` records, every element counted, the list marked truncated. Before:
    /// every element was kept, over 300 MB for one answer of this record.
    #[test]
    fn a_flood_of_empty_objects_keeps_at_most_the_bound_and_counts_the_rest() {
        let n = (4 << 20) / 3;
        let mut json = String::with_capacity(n * 3 + 2);
        json.push('[');
        for i in 0..n {
            json.push_str(if i == 0 { "{}" } else { ",{}" });
        }
        json.push(']');
        let list: List<Wide> = serde_json::from_str(&json).unwrap();
        assert!(list.len() <= MAX_LIST_ELEMENTS, "{} kept", list.len());
        assert_eq!(list.sent(), n);
        assert_eq!(list.skipped(), n - list.len());
        assert!(list.is_truncated() && list.is_array());
        // A list at the bound is whole.
        let at_bound = format!("[{}]", vec!["1"; MAX_LIST_ELEMENTS].join(","));
        let list: List<u32> = serde_json::from_str(&at_bound).unwrap();
        assert_eq!(
            (list.len(), list.is_truncated()),
            (MAX_LIST_ELEMENTS, false)
        );
        // One past it: counted, not kept, and a bad element past it fails nothing.
        let past = format!("[{},2,\"x\"]", vec!["1"; MAX_LIST_ELEMENTS].join(","));
        let list: List<u32> = serde_json::from_str(&past).unwrap();
        assert_eq!(
            (list.len(), list.sent()),
            (MAX_LIST_ELEMENTS, MAX_LIST_ELEMENTS + 2)
        );
        assert!(list.is_truncated());
        assert!(list.skipped_at().is_empty());
    }
}
