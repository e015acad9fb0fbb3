//! A caller's value as an error quotes it: its start only.

use std::fmt;

/// How many characters of a caller's value an error quotes. A value may be megabytes long (a
/// script pasted into an id, a file's contents given as a name): the error, and the log line
/// it becomes, stay short.
pub(crate) const SHOWN_CHARS: usize = 80;

/// At most [`SHOWN_CHARS`] (or a given number of) characters of a caller's text, cut at a
/// character boundary, then `…` when cut. `{}` prints them as they are, `{:?}` quoted and
/// escaped, with the `…` after the closing quote. Every error that repeats a caller's value
/// quotes it through this.
#[derive(Clone, Copy)]
pub(crate) struct Excerpt<'a> {
    head: &'a str,
    cut: bool,
}

impl<'a> Excerpt<'a> {
    /// At most [`SHOWN_CHARS`] characters of `text`.
    pub(crate) fn of(text: &'a str) -> Self {
        Self::at_most(text, SHOWN_CHARS)
    }

    /// At most `max` characters of `text`.
    pub(crate) fn at_most(text: &'a str, max: usize) -> Self {
        match text.char_indices().nth(max) {
            Some((end, _)) => Self {
                head: text.get(..end).unwrap_or_default(),
                cut: true,
            },
            None => Self {
                head: text,
                cut: false,
            },
        }
    }
}

impl fmt::Display for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.head)?;
        if self.cut {
            f.write_str("…")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Excerpt<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.head)?;
        if self.cut {
            f.write_str("…")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_text_is_cut_at_a_character_boundary() {
        assert_eq!(Excerpt::of("short").to_string(), "short");
        assert_eq!(format!("{:?}", Excerpt::of("a\"b")), r#""a\"b""#);
        let long = "声".repeat(1_000);
        let shown = Excerpt::of(&long).to_string();
        assert_eq!(shown.chars().count(), SHOWN_CHARS + 1);
        assert!(shown.ends_with('…'));
        assert_eq!(format!("{:?}", Excerpt::at_most("abcdef", 3)), "\"abc\"…");
        assert_eq!(Excerpt::at_most("abc", 3).to_string(), "abc");
    }
}
