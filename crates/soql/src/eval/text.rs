//! Case-insensitive text comparison without allocating: SOQL compares text fields
//! case-insensitively in `WHERE` and sorts them that way (SOQL reference, "Comparison
//! Operators").

use std::cmp::Ordering;

/// Lower-cases `text` once, at bind time.
pub(crate) fn fold(text: &str) -> Box<str> {
    text.chars()
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .into_boxed_str()
}

/// Compares `text`, lower-cased on the fly, with an already folded literal.
pub(crate) fn cmp_folded(text: &str, folded: &str) -> Ordering {
    if text.is_ascii() {
        // Lower-casing an ASCII character never leaves ASCII, and UTF-8 byte order is code
        // point order, so bytes compare exactly as characters would.
        text.bytes()
            .map(|byte| byte.to_ascii_lowercase())
            .cmp(folded.bytes())
    } else {
        text.chars()
            .flat_map(char::to_lowercase)
            .cmp(folded.chars())
    }
}

/// Compares two texts case-insensitively.
pub(crate) fn cmp_ignore_case(left: &str, right: &str) -> Ordering {
    if left.is_ascii() && right.is_ascii() {
        let lower = |byte: u8| byte.to_ascii_lowercase();
        left.bytes().map(lower).cmp(right.bytes().map(lower))
    } else {
        let left = left.chars().flat_map(char::to_lowercase);
        left.cmp(right.chars().flat_map(char::to_lowercase))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_comparison_ignores_case_in_both_scripts() {
        assert_eq!(cmp_folded("ACME Corp", &fold("acme corp")), Ordering::Equal);
        assert_eq!(cmp_folded("ÄRGER", &fold("ärger")), Ordering::Equal);
        assert_eq!(cmp_folded("abc", &fold("ABD")), Ordering::Less);
    }

    #[test]
    fn ascii_and_unicode_paths_agree_on_order() {
        assert_eq!(cmp_folded("z", &fold("é")), Ordering::Less);
        assert_eq!(cmp_ignore_case("Z", "é"), Ordering::Less);
        assert_eq!(cmp_ignore_case("b", "A"), Ordering::Greater);
    }
}
