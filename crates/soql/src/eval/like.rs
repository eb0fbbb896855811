//! `LIKE` patterns: `%` matches any run of characters, `_` exactly one, `\%` and `\_` the
//! characters themselves; matching ignores case (SOQL reference, "Comparison Operators").

use crate::lexer::decode_escape;

/// A compiled `LIKE` pattern, literal characters lower-cased.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LikePattern {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Part {
    Char(char),
    One,
    Many,
}

/// Something the matcher can index: ASCII bytes (folded on the fly) or folded characters.
trait Chars {
    fn len(&self) -> usize;
    fn at(&self, index: usize) -> char;
}

struct AsciiFolded<'a>(&'a [u8]);

impl Chars for AsciiFolded<'_> {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn at(&self, index: usize) -> char {
        char::from(self.0[index].to_ascii_lowercase())
    }
}

impl Chars for [char] {
    fn len(&self) -> usize {
        <[char]>::len(self)
    }

    fn at(&self, index: usize) -> char {
        self[index]
    }
}

impl LikePattern {
    /// Compiles the raw text between the quotes (escapes not yet decoded; the lexer has
    /// already rejected illegal ones).
    pub(crate) fn compile(raw: &str) -> Self {
        let mut parts = Vec::new();
        let mut chars = raw.chars();
        while let Some(character) = chars.next() {
            match character {
                '%' => parts.push(Part::Many),
                '_' => parts.push(Part::One),
                '\\' => {
                    let escaped = chars.next().and_then(decode_escape).unwrap_or('\\');
                    push_literal(&mut parts, escaped);
                }
                _ => push_literal(&mut parts, character),
            }
        }
        Self { parts }
    }

    /// Whether `text` matches; allocates only for non-ASCII text.
    pub(crate) fn matches(&self, text: &str) -> bool {
        if text.is_ascii() {
            self.match_chars(&AsciiFolded(text.as_bytes()))
        } else {
            let folded: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
            self.match_chars(folded.as_slice())
        }
    }

    /// Greedy wildcard matching that backtracks only to the most recent `%`, which is
    /// enough because a later `%` can absorb anything an earlier one could.
    fn match_chars<T: Chars + ?Sized>(&self, text: &T) -> bool {
        let (mut part, mut at) = (0, 0);
        let mut resume: Option<(usize, usize)> = None;
        while at < text.len() {
            match self.parts.get(part) {
                Some(Part::Many) => {
                    resume = Some((part, at));
                    part += 1;
                }
                Some(Part::One) => (part, at) = (part + 1, at + 1),
                Some(Part::Char(expected)) if *expected == text.at(at) => {
                    (part, at) = (part + 1, at + 1);
                }
                _ => match resume {
                    Some((star, start)) => {
                        resume = Some((star, start + 1));
                        (part, at) = (star + 1, start + 1);
                    }
                    None => return false,
                },
            }
        }
        self.parts[part..].iter().all(|rest| *rest == Part::Many)
    }
}

fn push_literal(parts: &mut Vec<Part>, character: char) {
    parts.extend(character.to_lowercase().map(Part::Char));
}

#[cfg(test)]
mod tests {
    use super::LikePattern;

    fn like(pattern: &str, text: &str) -> bool {
        LikePattern::compile(pattern).matches(text)
    }

    #[test]
    fn percent_matches_any_run_and_underscore_one_character() {
        assert!(like("a%b_", "aXYZbQ"));
        assert!(like("a%b_", "abQ"));
        assert!(!like("a%b_", "ab"));
        assert!(like("%", ""));
        assert!(like("%acme%", "The ACME company"));
        assert!(!like("_", ""));
    }

    #[test]
    fn matching_ignores_case_outside_ascii_too() {
        assert!(like("ÄR%", "ärger"));
        assert!(!like("st_ße", "STRASSE"));
        assert!(like("stra_e", "STRAßE"));
    }

    #[test]
    fn escaped_wildcards_match_only_themselves() {
        assert!(like(r"100\%", "100%"));
        assert!(!like(r"100\%", "1000"));
        assert!(like(r"a\_b", "a_b"));
        assert!(!like(r"a\_b", "axb"));
        assert!(like(r"O\'Brien", "o'brien"));
    }

    #[test]
    fn backtracking_finds_a_late_match() {
        assert!(like("%ab%abc", "abababxabc"));
        assert!(!like("%ab%abd", "abababxabc"));
    }
}
