//! Server strings made safe to print: control and invisible characters escaped for
//! terminals and for JSON, and a stderr writer that does it to every diagnostic.

use std::borrow::Cow;
use std::io::Write;

/// Characters never printed raw: C0 controls (ESC, BEL, CR, LF, NUL, ...), DEL, C1 controls
/// (including the 8-bit CSI U+009B), the line and paragraph separators U+2028/U+2029 (a line
/// break to some terminals, log viewers and pre-2019 JavaScript), and every character that
/// displays as nothing or reorders the text around it: Unicode's default-ignorable code points
/// (bidi marks, embeddings, overrides and isolates; zero-width spaces and joiners, which can
/// hide or split a string such as an id or a key; the BOM; variation selectors; tag
/// characters, which carry invisible ASCII).
fn must_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'..='\u{1160}'
                | '\u{17b4}'..='\u{17b5}'
                | '\u{180b}'..='\u{180f}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
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

/// `text` with every character of [`must_escape`] written as `\n`, `\r`, `\t` or `\u{..}`,
/// so a server string cannot move the cursor, retitle or clear the terminal, ring its bell or
/// start a line of its own.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    if !text.chars().any(must_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if must_escape(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `word` as one word of a shell command line, for the commands the CLI suggests
/// (`voiceclone wait ID`): as it is when every character is in `[A-Za-z0-9:._/@%+=,-]`,
/// else in single quotes, each `'` written `'\''`. A server-chosen id holding `$(...)`,
/// `;` or a backtick is then pasted as text, never run. A word holding a character
/// [`terminal_safe`] escapes (a tab, CR, LF, an invisible one) is written in ANSI-C quotes
/// instead ([`ansi_c_quoted`]): in single quotes, the escaping would paste `\r` (a
/// backslash and an `r`) as another word than the one meant.
pub fn shell_word(word: &str) -> Cow<'_, str> {
    let plain = |c: char| c.is_ascii_alphanumeric() || ":._/@%+=,-".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        return Cow::Borrowed(word);
    }
    if word.chars().any(must_escape) {
        return Cow::Owned(ansi_c_quoted(word));
    }
    Cow::Owned(format!("'{}'", word.replace('\'', "'\\''")))
}

/// `word` as bash's and zsh's `$'...'` (ANSI-C quoting, also in POSIX.1-2024), with every
/// character [`must_escape`] names written as an escape (`\t`, `\r`, `\n`, `\xHH` below
/// U+0080, `\uHHHH`, `\UHHHHHHHH`, always at full width so a hex digit after one is not
/// read into it), and `\` and `'` escaped: nothing in it is changed again by
/// [`terminal_safe`], and the shell passes `word` itself (`\u` as UTF-8 in a UTF-8 locale).
/// A NUL cannot be in any argument: the shell ends the word there.
fn ansi_c_quoted(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 16);
    out.push_str("$'");
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if must_escape(c) => {
                let n = u32::from(c);
                if n < 0x80 {
                    out.push_str(&format!("\\x{n:02x}"));
                } else if n <= 0xffff {
                    out.push_str(&format!("\\u{n:04x}"));
                } else {
                    out.push_str(&format!("\\U{n:08x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// Serialized JSON with the characters serde_json leaves raw (DEL, C1 controls, bidi
/// overrides, ...: it escapes only those below U+0020) written as `\uXXXX` escapes (a
/// surrogate pair beyond U+FFFF). Still the same JSON value: these characters can only occur
/// inside strings, where the escape means them.
pub fn json_safe(json: &str) -> Cow<'_, str> {
    if !json.chars().any(must_escape) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if must_escape(c) {
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Stderr for diagnostics (`tracing`), one per event: the event's text with every secret a
/// printer was given redacted, then control characters escaped ([`terminal_safe`]) except
/// the newline that ends it. Log fields carry server strings (an undocumented task status,
/// a vendor message), which may echo a secret the library does not scrub (the other
/// provider's key, the webhook secret). `tracing_subscriber`'s fmt layer formats an event
/// into a buffer and hands it over with one `write_all` on a writer made for that event;
/// the bytes are still gathered until the writer is dropped, so that a secret split
/// across two writes is redacted whole. The event is then queued for the diagnostics
/// thread ([`super::diagnostic`]).
#[derive(Debug, Default)]
pub struct SafeStderr {
    event: Vec<u8>,
}

impl SafeStderr {
    /// The event written so far as it may be printed: redacted, then escaped.
    fn take_line(&mut self) -> Option<String> {
        if self.event.is_empty() {
            return None;
        }
        let bytes = std::mem::take(&mut self.event);
        let text = String::from_utf8_lossy(&bytes);
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        // Redacted first, as the printer does: the escaping changes a secret holding a
        // character it escapes, which would then no longer be found.
        let redacted = super::redact_logged(body);
        Some(format!("{}{end}", terminal_safe(&redacted)))
    }
}

impl Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.event.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for SafeStderr {
    fn drop(&mut self) {
        if let Some(line) = self.take_line() {
            // From the diagnostics thread: a stderr nobody reads must not block the runtime.
            super::diagnostic(line.into_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};

    /// A log event reaches the writer in more than one `write` (not what the fmt layer does
    /// today, which is one `write_all`): a secret split across them is still redacted whole,
    /// before the escaping, and the event's own newline is kept.
    #[test]
    fn a_secret_split_across_writes_of_one_event_is_redacted() {
        let secret = "whsec-log-split-0a1b2c3d4e5f";
        super::super::Printer::new(false, false).add_secret(secret);
        let mut w = SafeStderr::default();
        let event = format!("WARN status={secret}\u{1b}[2J done\n");
        let (a, b) = event.as_bytes().split_at(18);
        assert_eq!(w.write(a).unwrap(), a.len());
        w.write_all(b).unwrap();
        let line = w.take_line().unwrap();
        assert_eq!(line, "WARN status=[redacted]\\u{1b}[2J done\n");
        assert_eq!(w.take_line(), None);
    }

    #[test]
    fn a_shell_word_is_quoted_unless_every_character_is_plain() {
        assert_eq!(
            shell_word("vmeg:clone:t-1_a.b/c@d%e+f=g,h"),
            "vmeg:clone:t-1_a.b/c@d%e+f=g,h"
        );
        assert_eq!(shell_word(""), "''");
        assert_eq!(shell_word("t1 t2"), "'t1 t2'");
        assert_eq!(shell_word("$(touch x)"), "'$(touch x)'");
        assert_eq!(shell_word("a'b"), "'a'\\''b'");
        for hostile in [
            "`id`", "a;b", "a|b", "a&b", "{a,b}", "a\\b", "~root", "*", "!x", "a\"b",
        ] {
            let q = shell_word(hostile);
            assert!(q.starts_with('\'') && q.ends_with('\''), "{hostile}: {q}");
        }
    }

    /// Bash's reading of the `$'...'` escapes [`ansi_c_quoted`] writes.
    fn ansi_c_unquoted(quoted: &str) -> String {
        let body = quoted
            .strip_prefix("$'")
            .unwrap()
            .strip_suffix('\'')
            .unwrap();
        let mut out = String::new();
        let mut chars = body.chars();
        while let Some(c) = chars.next() {
            if c != '\\' {
                assert_ne!(c, '\'', "an unescaped quote in {quoted}");
                out.push(c);
                continue;
            }
            let hex = |chars: &mut std::str::Chars<'_>, width: usize| {
                let digits: String = chars.by_ref().take(width).collect();
                char::from_u32(u32::from_str_radix(&digits, 16).unwrap()).unwrap()
            };
            match chars.next().unwrap() {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'x' => out.push(hex(&mut chars, 2)),
                'u' => out.push(hex(&mut chars, 4)),
                'U' => out.push(hex(&mut chars, 8)),
                other => {
                    let plain = matches!(other, '\\' | '\'');
                    assert!(plain, "an escape \\{other} bash reads otherwise: {quoted}");
                    out.push(other);
                }
            }
        }
        out
    }

    /// Review 34-e #4: a word holding a character the terminal escaping changes (a CR from a
    /// CRLF file, a tab, a zero-width space) is written as `$'...'`, which the terminal
    /// escaping leaves as it is and which reads back (by bash's rules, and by bash itself
    /// when it is installed) as the word: in single quotes, `narrator\r` pasted a backslash
    /// and an `r`, another name.
    #[test]
    fn a_word_the_terminal_escaping_would_change_pastes_back_exactly() {
        let words = [
            "narrator\r",
            "a\tb\nc",
            "it's a \\ \u{200b}x\u{1b}[2J",
            "\u{7f}9\u{85}f\u{202e}a\u{feff}b\u{e0041}1",
            "-n\u{2028}$(id)`x`\"é 声",
        ];
        for word in words {
            let q = shell_word(word);
            assert!(q.starts_with("$'"), "{word:?}: {q}");
            assert_eq!(terminal_safe(&q), q, "{word:?}");
            assert_eq!(ansi_c_unquoted(&q), word, "{q}");
            let bash = std::process::Command::new("bash")
                .env("LC_ALL", "C.UTF-8")
                .arg("-c")
                .arg(format!("printf %s {q}"))
                .output();
            if let Ok(o) = bash
                && o.status.success()
            {
                assert_eq!(String::from_utf8_lossy(&o.stdout), word, "bash read {q}");
            }
        }
        // Nothing to escape: single quotes, as before.
        assert_eq!(shell_word("a b é"), "'a b é'");
    }

    #[test]
    fn control_characters_are_escaped_for_terminals_and_json() {
        let nasty = "a\u{1b}]0;x\u{7}\u{1b}[2J\r\nforged\u{7f}\u{9b}1m\u{0}\u{85}\u{202e}\tz é";
        let t = terminal_safe(nasty);
        assert_eq!(
            t,
            "a\\u{1b}]0;x\\u{7}\\u{1b}[2J\\r\\nforged\\u{7f}\\u{9b}1m\\u{0}\\u{85}\\u{202e}\\tz é"
        );
        assert!(!t.chars().any(must_escape));
        assert!(matches!(terminal_safe("plain é 声"), Cow::Borrowed(_)));
        // Invisible or line-breaking characters: a zero-width space splitting a key or an
        // id, bidi marks, the line separator, the BOM, tag characters (invisible ASCII).
        let hidden = "sk-te\u{200b}st\u{200e}\u{2028}x\u{feff}\u{e0041}\u{2069}";
        let t = terminal_safe(hidden);
        assert_eq!(
            t,
            "sk-te\\u{200b}st\\u{200e}\\u{2028}x\\u{feff}\\u{e0041}\\u{2069}"
        );
        let text = serde_json::to_string(&json!({ "m": hidden })).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(must_escape), "{safe}");
        assert!(safe.contains("\\udb40\\udc41"), "{safe}");
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["m"], hidden);
        let text = serde_json::to_string(&json!({ "m": nasty })).unwrap();
        let safe = json_safe(&text);
        assert!(!safe.chars().any(must_escape), "{safe}");
        let back: Value = serde_json::from_str(&safe).unwrap();
        assert_eq!(back["m"], nasty);
    }
}
