use super::*;
use proptest::prelude::*;

fn ring() -> KeyRing {
    KeyRing::new(MasterKey::from_bytes([7; 32]))
}

#[test]
fn a_sealed_secret_opens_with_its_context_and_hides_the_plaintext() {
    let sealed = seal(
        &ring(),
        b"5Aep861-refresh-token",
        "connection:1:refresh_token",
    )
    .unwrap();
    assert!(
        !sealed.windows(8).any(|w| w == b"5Aep861-"),
        "plaintext must not appear"
    );
    let opened = open(&ring(), &sealed, "connection:1:refresh_token").unwrap();
    assert_eq!(&opened[..], b"5Aep861-refresh-token");
}

#[test]
fn a_ciphertext_moved_to_another_connection_fails_to_open() {
    let sealed = seal(&ring(), b"secret", "connection:1:refresh_token").unwrap();
    assert_eq!(
        open(&ring(), &sealed, "connection:2:refresh_token"),
        Err(Error::Tampered)
    );
    assert_eq!(
        open(&ring(), &sealed, "connection:1:access_token"),
        Err(Error::Tampered)
    );
}

#[test]
fn a_flipped_bit_is_caught() {
    let mut sealed = seal(&ring(), b"secret", "c").unwrap();
    let last = sealed.len() - 1;
    sealed[last] ^= 1;
    assert_eq!(open(&ring(), &sealed, "c"), Err(Error::Tampered));
}

#[test]
fn a_secret_sealed_by_an_unknown_key_names_the_key_id_only() {
    let sealed = seal(&ring(), b"secret", "c").unwrap();
    let other = KeyRing::new(MasterKey::from_bytes([9; 32]));
    let error = open(&other, &sealed, "c").unwrap_err();
    assert!(matches!(error, Error::UnknownKey(_)));
    assert_eq!(
        error.to_string().len(),
        "sealed by master key 0000000000000000, which is not configured".len()
    );
}

#[test]
fn rotation_rewraps_data_keys_and_keeps_the_secret() {
    let old = MasterKey::from_bytes([1; 32]);
    let new = MasterKey::from_bytes([2; 32]);
    let sealed = seal(&KeyRing::new(old.clone()), b"token", "c").unwrap();
    let ring = KeyRing::rotated(new.clone(), vec![old]);
    let rewrapped = rewrap(&ring, &sealed, "c").unwrap();
    assert_eq!(sealed_key_id(&rewrapped).unwrap(), *new.id());
    assert_eq!(
        &rewrapped[HEADER_LEN - NONCE_LEN..],
        &sealed[HEADER_LEN - NONCE_LEN..],
        "secret ciphertext untouched"
    );
    assert_eq!(
        &open(&KeyRing::new(new), &rewrapped, "c").unwrap()[..],
        b"token"
    );
}

#[test]
fn master_keys_parse_from_base64_and_never_print() {
    let (key, text) = MasterKey::generate().unwrap();
    let parsed = MasterKey::from_base64(&format!("{text}\n")).unwrap();
    assert_eq!(parsed.id(), key.id());
    assert!(!format!("{parsed:?}").contains(&text));
    assert!(matches!(
        MasterKey::from_base64("c2hvcnQ="),
        Err(Error::InvalidKey(_))
    ));
    assert!(matches!(
        MasterKey::from_base64("not base64!"),
        Err(Error::InvalidKey(_))
    ));
}

proptest! {
    #[test]
    fn any_bytes_given_to_open_give_an_error_or_the_secret_never_a_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = open(&ring(), &bytes, "c");
    }

    #[test]
    fn sealing_round_trips_any_secret(secret in proptest::collection::vec(any::<u8>(), 0..512), context in ".{0,40}") {
        let sealed = seal(&ring(), &secret, &context).unwrap();
        prop_assert_eq!(&open(&ring(), &sealed, &context).unwrap()[..], &secret[..]);
    }
}

fn write_keys(path: &std::path::Path, keys: &[&MasterKey]) {
    use base64::Engine;
    let lines: Vec<String> = keys
        .iter()
        .map(|k| base64::engine::general_purpose::STANDARD.encode(k.bytes()))
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

#[test]
fn a_ring_from_a_key_file_picks_up_a_rotation_written_beside_it() {
    let dir = std::env::temp_dir().join(format!("sfsync-vault-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("master.key");
    let old = MasterKey::from_bytes([1; 32]);
    let new = MasterKey::from_bytes([2; 32]);
    write_keys(&path, &[&old]);
    let service = KeyRing::from_file(&path).unwrap();
    let sealed = seal(&service, b"token", "c").unwrap();

    // Another process rotates: new key first, the old one kept to open what it sealed.
    write_keys(&path, &[&new, &old]);
    let rotator = KeyRing::from_file(&path).unwrap();
    let rewrapped = rewrap(&rotator, &sealed, "c").unwrap();
    assert_eq!(sealed_key_id(&rewrapped).unwrap(), *new.id());

    // The service meets a key it does not hold, re-reads the file and seals with the new key.
    assert_eq!(&open(&service, &rewrapped, "c").unwrap()[..], b"token");
    assert_eq!(service.primary().id(), new.id());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_key_file_with_a_bad_line_names_the_line() {
    let dir = std::env::temp_dir().join(format!("sfsync-vault-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("master.key");
    write_keys(&path, &[&MasterKey::from_bytes([1; 32])]);
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("not-a-key\n");
    std::fs::write(&path, text).unwrap();
    let err = KeyRing::from_file(&path).unwrap_err().to_string();
    assert!(err.contains("line 2"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
