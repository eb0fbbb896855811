//! Salesforce record Ids: 15 case-sensitive characters plus a 3-character suffix that makes
//! the 18-character form case-insensitive.
//!
//! The first three characters are the object's key prefix (`001` Account, `003` Contact).
//! The suffix encodes, for each 5-character chunk, which characters are upper-case letters.

/// Base-62 digits in ASCII order, so that a longer counter never sorts before a shorter one
/// once both are left-padded: string order of Ids is creation order, as in Salesforce.
const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The alphabet of the case-checksum suffix.
const SUFFIX: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// An 18-character Id stored inline (no heap allocation per record).
pub type IdBytes = [u8; 18];

/// Builds the 18-character Id for `prefix` (3 characters), a 2-character pod marker and a
/// per-object counter.
pub fn make_id(prefix: &str, pod: &str, counter: u64) -> IdBytes {
    let mut id15 = [b'0'; 15];
    id15[..3].copy_from_slice(&prefix.as_bytes()[..3]);
    id15[3..5].copy_from_slice(&pod.as_bytes()[..2]);
    let mut n = counter;
    for slot in id15[5..].iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    let mut out = [0u8; 18];
    out[..15].copy_from_slice(&id15);
    out[15..].copy_from_slice(&checksum(&id15));
    out
}

/// The 3-character suffix of an 18-character Id.
pub fn checksum(id15: &[u8; 15]) -> [u8; 3] {
    let mut suffix = [0u8; 3];
    for (chunk, out) in id15.chunks(5).zip(suffix.iter_mut()) {
        let bits = chunk
            .iter()
            .enumerate()
            .filter(|(_, c)| c.is_ascii_uppercase())
            .fold(0usize, |acc, (i, _)| acc | (1 << i));
        *out = SUFFIX[bits];
    }
    suffix
}

/// Reads an Id given in its 15- or 18-character form, returning the 18-character form.
/// Returns `None` for anything that is not a well-formed Id.
pub fn parse_id(text: &str) -> Option<IdBytes> {
    let bytes = text.as_bytes();
    if !(bytes.len() == 15 || bytes.len() == 18) || !bytes.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    let mut id15 = [0u8; 15];
    id15.copy_from_slice(&bytes[..15]);
    let suffix = checksum(&id15);
    if bytes.len() == 18 && !bytes[15..].eq_ignore_ascii_case(&suffix) {
        return None;
    }
    let mut out = [0u8; 18];
    out[..15].copy_from_slice(&id15);
    out[15..].copy_from_slice(&suffix);
    Some(out)
}

/// The Id as text.
pub fn id_str(id: &IdBytes) -> &str {
    // Ids are built only from ASCII alphanumerics, so this never fails.
    std::str::from_utf8(id).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_salesforce_id_gets_its_published_suffix() {
        // The 15/18 pair from Salesforce's REST examples: 001D000000IRFma -> 001D000000IRFmaIAH.
        let mut id15 = [0u8; 15];
        id15.copy_from_slice(b"001D000000IRFma");
        assert_eq!(&checksum(&id15), b"IAH");
    }

    #[test]
    fn ids_sort_in_creation_order() {
        let a = make_id("001", "Dx", 61);
        let b = make_id("001", "Dx", 62);
        assert!(a < b);
        assert_eq!(&a[..3], b"001");
    }

    #[test]
    fn fifteen_and_eighteen_character_forms_parse_to_the_same_id() {
        let id = make_id("003", "Dx", 12345);
        let text = id_str(&id);
        assert_eq!(parse_id(text), Some(id));
        assert_eq!(parse_id(&text[..15]), Some(id));
        assert_eq!(
            parse_id(&text.to_lowercase()[..]),
            None,
            "15 chars are case-sensitive"
        );
        assert_eq!(parse_id("not-an-id"), None);
    }
}
