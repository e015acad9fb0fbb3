//! Where a long text may be cut, and the cuts themselves.
//!
//! A text is a row of atoms the splitter never cuts: grapheme clusters (so an accent stays on
//! its letter and an emoji sequence stays whole) and whole `<#x#>` pause markers. Between two
//! atoms lies a possible cut, rated by what it falls on ([`Boundary`]). A part starts only
//! with an atom that has something to speak: whitespace, pause markers and invisible
//! characters stay at the end of the part before, so no part holds only them (the provider
//! would refuse it, and with it the whole plan), and concatenating the parts gives back the
//! text, byte for byte.

use unicode_segmentation::UnicodeSegmentation;

use crate::validate;

/// How good a place to cut is: a paragraph break beats a sentence end, which beats a gap
/// between words, which beats any other grapheme boundary (the last resort).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Boundary {
    /// Between two grapheme clusters, e.g. inside a word or a run of CJK characters.
    Grapheme,
    /// After whitespace, clause punctuation (`,` `;` `，` `、` ...) or a pause marker.
    Word,
    /// After a sentence end (`.` `!` `?` followed by whitespace; `。` `！` `？` directly) or a
    /// single line break.
    Sentence,
    /// After a blank line.
    Paragraph,
}

/// A place a piece may end (or start): its byte offset in the text, the Unicode scalar values
/// before it, and how good a place it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    pub(crate) byte: usize,
    pub(crate) chars: usize,
    pub(crate) level: Boundary,
}

/// A text that cannot be cut to the limit: an atom, or a stretch without any allowed cut
/// (e.g. a run of whitespace), is longer than `max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooLong {
    /// Byte offset where the stretch starts.
    pub(crate) at_byte: usize,
    /// Scalar values before it.
    pub(crate) at_char: usize,
}

/// The byte length of a pause marker at the start of `rest` (`<#` digits and dots `#>`).
/// Malformed values are still one atom here; the provider's rules refuse them by name.
fn marker_len(rest: &str) -> Option<usize> {
    let inner = rest.strip_prefix("<#")?;
    // Only the first bytes are searched: a marker's value is at most 10 bytes, and a search
    // of the whole rest at every `<#` made a text of unclosed `<#` quadratic (minutes).
    // Bytes, not slicing: the text after a marker may be multi-byte.
    let head = inner.as_bytes().get(..inner.len().min(12))?;
    let end = head
        .windows(2)
        .position(|w| w == b"#>")
        .filter(|&e| e <= 10)?;
    let value = inner.get(..end)?;
    (!value.is_empty() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.')).then_some(end + 4)
}

const SENTENCE_END: &[char] = &['.', '!', '?', '…'];
const CJK_SENTENCE_END: &[char] = &['。', '！', '？', '．', '｡'];
const CLAUSE: &[char] = &[',', ';', ':', '，', '、', '；', '：'];
/// Closing quotes and brackets after a sentence end still belong to the sentence.
const CLOSERS: &[char] = &[
    '"', '\'', '”', '’', '»', '」', '』', '）', ')', ']', '》', '〉', '】',
];

/// Every allowed cut of `text`, first the start (byte 0) and last the end, in order; the
/// scalar-value counts strictly increase. A cut is allowed between two atoms when the atom
/// after it has something to speak and something before it has too.
///
/// `pauses`: whether `<#x#>` markers are pauses (JimmyAI), silent like whitespace; for VMEG,
/// which knows no markers, one is text it speaks (still kept whole).
pub(crate) fn cut_points(text: &str, pauses: bool) -> Vec<Cut> {
    let mut scan = Scan::default();
    let mut skip_to = 0usize;
    for (byte, g) in text.grapheme_indices(true) {
        if byte < skip_to {
            // A grapheme the last atom (a marker) ended inside: its rest (a combining mark
            // after `#>`, say) belongs to that atom, and still counts.
            let end = byte.saturating_add(g.len());
            if end > skip_to {
                scan.chars += text.get(skip_to..end).map_or(0, |t| t.chars().count());
                skip_to = end;
            }
            continue;
        }
        let rest = text.get(byte..).unwrap_or_default();
        // A marker may start inside a cluster: a Prepend character (U+0600, U+0D4E, ...)
        // joins the `<` after it into one grapheme. That cluster's head and the whole marker
        // are then one atom, so the marker is never cut and no cut falls inside a grapheme.
        let marker = g.match_indices('<').find_map(|(at, _)| {
            let end = at.checked_add(rest.get(at..).and_then(marker_len)?)?;
            Some((rest.get(..at)?, rest.get(..end)?))
        });
        // A marker is a pause, not speech: only the cluster head before it may speak.
        let (atom, speaks) = match marker {
            Some((head, atom)) if pauses => (atom, validate::has_speakable(head)),
            Some((_, atom)) => (atom, validate::has_speakable(atom)),
            None => (g, validate::has_speakable(g)),
        };
        scan.atom(byte, atom, speaks, marker.is_some());
        skip_to = byte.saturating_add(atom.len());
    }
    if scan.chars > 0 {
        scan.cuts.push(Cut {
            byte: text.len(),
            chars: scan.chars,
            level: Boundary::Paragraph,
        });
    }
    scan.cuts
}

/// The cuts found so far, and what the text just before the next atom was.
struct Scan {
    cuts: Vec<Cut>,
    chars: usize,
    seen_speech: bool,
    // The run of silent atoms (whitespace, pause markers) just before the current position:
    // how many, and the line breaks in it. Invisible characters leave it as it is.
    run_atoms: usize,
    run_newlines: usize,
    // What the last atom that is not whitespace (and not a closer) ended with.
    sentence_end: bool,
    cjk_end: bool,
    clause_end: bool,
}

impl Default for Scan {
    fn default() -> Self {
        Self {
            cuts: vec![Cut {
                byte: 0,
                chars: 0,
                level: Boundary::Paragraph,
            }],
            chars: 0,
            seen_speech: false,
            run_atoms: 0,
            run_newlines: 0,
            sentence_end: false,
            cjk_end: false,
            clause_end: false,
        }
    }
}

impl Scan {
    /// The next atom, at byte `byte`: the cut before it, if one is allowed, and what it ends.
    /// `speaks`: the atom has something to speak (a marker's own text does not count).
    fn atom(&mut self, byte: usize, atom: &str, speaks: bool, marker: bool) {
        if speaks && self.seen_speech {
            let level = if self.run_newlines >= 2 {
                Boundary::Paragraph
            } else if self.cjk_end
                || (self.sentence_end && self.run_atoms > 0)
                || self.run_newlines == 1
            {
                Boundary::Sentence
            } else if self.run_atoms > 0 || self.clause_end || marker {
                Boundary::Word
            } else {
                Boundary::Grapheme
            };
            self.cuts.push(Cut {
                byte,
                chars: self.chars,
                level,
            });
        }
        self.chars += atom.chars().count();
        if !speaks {
            // Silent: it joins the part before the next speech. A pause or a blank is a gap
            // between words; a lone invisible character (a soft hyphen, a word joiner) is
            // not, and keeps what came before it, so `.\n\n\u{200B}\n\n` is still a
            // paragraph break.
            if marker || atom.chars().any(char::is_whitespace) {
                self.run_atoms += 1;
                self.run_newlines += atom.matches('\n').count();
            }
            return;
        }
        self.seen_speech = true;
        self.run_atoms = 0;
        self.run_newlines = 0;
        let last = atom.chars().next_back();
        if marker {
            (self.sentence_end, self.cjk_end, self.clause_end) = (false, false, true);
        } else if last.is_some_and(|c| CLOSERS.contains(&c)) && atom.chars().count() == 1 {
            // A closer keeps what the sentence ended with.
            self.clause_end = false;
        } else {
            self.sentence_end = last.is_some_and(|c| SENTENCE_END.contains(&c));
            self.cjk_end = last.is_some_and(|c| CJK_SENTENCE_END.contains(&c));
            self.clause_end = last.is_some_and(|c| CLAUSE.contains(&c));
        }
    }
}

/// The furthest cut after `from` within `max` scalar values of it.
fn reach(cuts: &[Cut], from: usize, max: usize) -> Result<usize, TooLong> {
    let start = cuts.get(from).copied().ok_or(TooLong {
        at_byte: 0,
        at_char: 0,
    })?;
    let limit = start.chars.saturating_add(max);
    let k = cuts.partition_point(|c| c.chars <= limit).saturating_sub(1);
    if k <= from {
        return Err(TooLong {
            at_byte: start.byte,
            at_char: start.chars,
        });
    }
    Ok(k)
}

/// The best cut among `lo..=hi`: the highest boundary, the latest of equals (fuller pieces).
fn best(cuts: &[Cut], lo: usize, hi: usize) -> usize {
    (lo..=hi)
        .max_by_key(|&i| (cuts.get(i).map(|c| c.level), i))
        .unwrap_or(hi)
}

/// Chooses which cuts end a piece of at most `max` scalar values: indices into `cuts`, from
/// the start (0) to the end. With `fewest`, the number of pieces is the smallest possible and
/// each cut is the best boundary that keeps it so; without it, each piece ends at the best
/// boundary within reach (more, more natural pieces).
pub(crate) fn partition(cuts: &[Cut], max: usize, fewest: bool) -> Result<Vec<usize>, TooLong> {
    let last = cuts.len().saturating_sub(1);
    let mut chosen = vec![0usize];
    if last == 0 {
        return Ok(chosen);
    }
    if !fewest {
        let mut at = 0;
        while at != last {
            let hi = reach(cuts, at, max)?;
            at = if hi == last {
                last
            } else {
                best(cuts, at + 1, hi)
            };
            chosen.push(at);
        }
        return Ok(chosen);
    }
    // The fewest pieces: the forward greedy count is the minimum.
    let mut pieces = 0usize;
    let mut at = 0;
    while at != last {
        at = reach(cuts, at, max)?;
        pieces += 1;
    }
    // earliest[k]: the first cut from which the rest fits in `pieces - k` pieces.
    let mut earliest = vec![last; pieces + 1];
    for k in (0..pieces).rev() {
        let next = earliest.get(k + 1).copied().unwrap_or(last);
        let need = cuts.get(next).map_or(0, |c| c.chars);
        if let Some(slot) = earliest.get_mut(k) {
            *slot = cuts.partition_point(|c| c.chars.saturating_add(max) < need);
        }
    }
    let mut at = 0;
    for k in 1..=pieces {
        let hi = reach(cuts, at, max)?;
        // Never empty for a minimal count (a later cut would cover the rest in fewer
        // pieces); `min` keeps it a range whatever happens.
        let lo = earliest.get(k).copied().unwrap_or(hi).max(at + 1).min(hi);
        at = best(cuts, lo, hi);
        chosen.push(at);
    }
    Ok(chosen)
}

/// The text of each piece between consecutive chosen cuts.
pub(crate) fn pieces<'t>(text: &'t str, cuts: &[Cut], chosen: &[usize]) -> Vec<&'t str> {
    chosen
        .windows(2)
        .filter_map(|w| {
            let a = cuts.get(*w.first()?)?.byte;
            let b = cuts.get(*w.get(1)?)?.byte;
            text.get(a..b)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn split(text: &str, max: usize, fewest: bool) -> Vec<&str> {
        let cuts = cut_points(text, true);
        let chosen = partition(&cuts, max, fewest).unwrap();
        pieces(text, &cuts, &chosen)
    }

    fn level_at(text: &str, byte: usize) -> Option<Boundary> {
        cut_points(text, true)
            .iter()
            .find(|c| c.byte == byte)
            .map(|c| c.level)
    }

    #[test]
    fn boundaries_are_rated() {
        let t = "One. Two!\nThree\n\nFour, five 3.14";
        assert_eq!(
            level_at(t, t.find("Two").unwrap()),
            Some(Boundary::Sentence)
        );
        assert_eq!(
            level_at(t, t.find("Three").unwrap()),
            Some(Boundary::Sentence)
        );
        assert_eq!(
            level_at(t, t.find("Four").unwrap()),
            Some(Boundary::Paragraph)
        );
        assert_eq!(level_at(t, t.find("five").unwrap()), Some(Boundary::Word));
        assert_eq!(level_at(t, t.find("14").unwrap()), Some(Boundary::Grapheme));
        // No cut before whitespace.
        assert_eq!(level_at(t, t.find(" Two").unwrap()), None);
        let c = "你好。世界！「好」。再见";
        assert_eq!(level_at(c, c.find("世").unwrap()), Some(Boundary::Sentence));
        assert_eq!(level_at(c, c.find("再").unwrap()), Some(Boundary::Sentence));
        assert_eq!(level_at(c, c.find("界").unwrap()), Some(Boundary::Grapheme));
        let q = "He said \"stop.\" Then left.";
        assert_eq!(
            level_at(q, q.find("Then").unwrap()),
            Some(Boundary::Sentence)
        );
    }

    #[test]
    fn markers_and_graphemes_stay_whole() {
        // Multi-byte text right after a marker.
        let m = "a<#0.5#>轊霖";
        let bytes: Vec<usize> = cut_points(m, true).iter().map(|c| c.byte).collect();
        assert_eq!(bytes, [0, 8, 11, 14]);
        let t = "ab<#0.5#>cd";
        let cuts = cut_points(t, true);
        let bytes: Vec<usize> = cuts.iter().map(|c| c.byte).collect();
        // No cut before the marker: it stays with the speech before it.
        assert_eq!(bytes, [0, 1, 9, 10, 11]);
        assert_eq!(level_at(t, 9), Some(Boundary::Word));
        // e + combining acute is one grapheme; so is a family emoji.
        let g = "ae\u{301}b👨‍👩‍👧c";
        let bytes: Vec<usize> = cut_points(g, true).iter().map(|c| c.byte).collect();
        assert_eq!(bytes, [0, 1, 4, 5, 23, 24]);
    }

    #[test]
    fn fewest_pieces_prefer_the_best_boundary() {
        // 3 pieces are needed at 12 characters; the cuts fall on the sentence ends.
        let t = "Aaa bbb. Cc dd ee. Ff gg hh.";
        let p = split(t, 12, true);
        assert_eq!(p, ["Aaa bbb. ", "Cc dd ee. ", "Ff gg hh."]);
        // A paragraph break wins over a later sentence end when both keep the count.
        let t = "Aa.\n\nBb. Cc. Dd.";
        assert_eq!(split(t, 14, true), ["Aa.\n\n", "Bb. Cc. Dd."]);
        // One piece when it fits.
        assert_eq!(split("short text.", 100, true), ["short text."]);
        // Natural packing ends at the best boundary in reach.
        assert_eq!(
            split("Aa.\n\nBb. Cc. Dd.", 14, false),
            ["Aa.\n\n", "Bb. Cc. Dd."]
        );
    }

    #[test]
    fn silent_atoms_stay_with_the_speech_before_them() {
        // A pause marker or an invisible character never starts a piece: a piece that held
        // only one would hold nothing to speak, and the provider refuses it.
        let t = "One two. <#1.5#>";
        assert_eq!(split(t, 12, true), ["One ", "two. <#1.5#>"]);
        let t = "Aa.\n\n\u{200B}\n\nBb.";
        assert_eq!(level_at(t, t.find('\u{200B}').unwrap()), None);
        assert_eq!(
            level_at(t, t.find("Bb").unwrap()),
            Some(Boundary::Paragraph)
        );
        // Silent text before the first speech stays with it too.
        let t = "<#1#>\u{FEFF} Aa bb";
        assert_eq!(split(t, 10, true), ["<#1#>\u{FEFF} Aa ", "bb"]);
        // A sentence end before a pause is still a sentence end.
        let t = "Aa. <#1#> Bb";
        assert_eq!(level_at(t, t.find("Bb").unwrap()), Some(Boundary::Sentence));
        // A soft hyphen inside a word is no word gap.
        let t = "ab\u{AD}cd";
        assert_eq!(level_at(t, t.find('c').unwrap()), Some(Boundary::Grapheme));
        // Silence longer than a piece leaves no place to cut.
        let t = format!("a{}", "<#1#>".repeat(5));
        assert!(partition(&cut_points(&t, true), 10, true).is_err());
    }

    #[test]
    fn a_stretch_without_cuts_is_refused() {
        let t = format!("a{}b", " ".repeat(20));
        let cuts = cut_points(&t, true);
        assert_eq!(
            partition(&cuts, 10, true),
            Err(TooLong {
                at_byte: 0,
                at_char: 0
            })
        );
    }

    #[test]
    fn an_empty_text_has_no_pieces() {
        let cuts = cut_points("", true);
        assert_eq!(partition(&cuts, 10, true).unwrap(), [0]);
        assert!(pieces("", &cuts, &[0]).is_empty());
    }
}
