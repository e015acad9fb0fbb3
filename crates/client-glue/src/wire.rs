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

/// A function every [`Text`] passes through as it is decoded (the `voiceclone` adapter
/// removes its API key from everything a server says with one).
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

/// The integer a number's text (or a string's content) says, if it is an exact one.
fn integer_in(text: &str) -> Option<i64> {
    let inner = text.trim();
    if let Ok(i) = inner.parse::<i64>() {
        return Some(i);
    }
    let f: f64 = inner.parse().ok()?;
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
                return text.trim().parse::<f64>().ok();
            }
            match unescaped_inner(text) {
                Some(inner) => inner.trim().parse::<f64>().ok(),
                None => serde_json::from_slice::<String>(text.as_bytes())
                    .ok()?
                    .trim()
                    .parse::<f64>()
                    .ok(),
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
/// it with `serde_json::from_str(raw.get())` into whatever shape is expected.
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
        Ok(RawJson(raw(d)?))
    }
}

impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
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

    #[test]
    fn numbers_and_raw_values() {
        let p = probe(r#"{"code":1,"n":"42","f":"1.5","any":{"voiceId":98765432109876543210}}"#);
        assert_eq!(p.n.unwrap().value(), Some(42));
        assert_eq!(p.f.unwrap().value(), Some(1.5));
        assert_eq!(p.any.unwrap().get(), r#"{"voiceId":98765432109876543210}"#);
        let p = probe(r#"{"code":1,"n":1.5,"f":"NaN"}"#);
        assert_eq!((p.n.unwrap().value(), p.f.unwrap().value()), (None, None));
    }
}
