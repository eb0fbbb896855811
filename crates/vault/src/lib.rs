//! The token vault: envelope encryption of secrets at rest.
//!
//! Each secret gets its own fresh data key; the data key is wrapped by the master key (the
//! key-encryption key, from `SFSYNC_MASTER_KEY` or `SFSYNC_MASTER_KEY_FILE`); both layers
//! use XChaCha20-Poly1305, whose 192-bit random nonces need no bookkeeping. The associated
//! data binds a ciphertext to where it belongs (a connection and a column): a sealed token
//! copied onto another connection fails to open. Rotating the master key re-wraps the data
//! keys only; the secrets themselves are not re-encrypted.
//!
//! Layout of a sealed secret (all lengths fixed but the last):
//! `version (1) | master key id (8) | wrap nonce (24) | wrapped data key (48) | nonce (24) | ciphertext + tag`.

#![warn(missing_docs)]

mod key;

pub use key::{KeyId, KeyRing, MasterKey};

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const ID_LEN: usize = 8;
const NONCE_LEN: usize = 24;
const WRAPPED_LEN: usize = 32 + 16;
const HEADER_LEN: usize = 1 + ID_LEN + NONCE_LEN + WRAPPED_LEN + NONCE_LEN;

/// Why a secret could not be sealed or opened. Messages never contain key or secret bytes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    /// The bytes are not a sealed secret of a known version.
    #[error("malformed sealed secret: {0}")]
    Malformed(&'static str),
    /// The master key that wrapped this secret is not in the key ring.
    #[error("sealed by master key {0}, which is not configured")]
    UnknownKey(KeyId),
    /// Authentication failed: the bytes were altered or belong to another place.
    #[error("sealed secret failed authentication: altered, or bound to another connection")]
    Tampered,
    /// A master key could not be read.
    #[error("invalid master key: {0}")]
    InvalidKey(String),
    /// The operating system's random source failed.
    #[error("no random source: {0}")]
    Random(String),
}

/// Encrypts `secret` under a fresh data key wrapped by the ring's primary master key,
/// bound to `context` (for example `connection:42:refresh_token`).
pub fn seal(ring: &KeyRing, secret: &[u8], context: &str) -> Result<Vec<u8>, Error> {
    let data_key = Zeroizing::new(random::<32>()?);
    let primary = ring.primary();
    let (wrap_nonce, wrapped) = encrypt(primary.bytes(), &data_key[..], context)?;
    let (nonce, ciphertext) = encrypt(&data_key, secret, context)?;
    let mut out = Vec::with_capacity(HEADER_LEN + ciphertext.len());
    out.push(VERSION);
    out.extend_from_slice(primary.id().as_bytes());
    out.extend_from_slice(&wrap_nonce);
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Decrypts a sealed secret bound to `context`.
pub fn open(ring: &KeyRing, sealed: &[u8], context: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let parts = Parts::read(sealed)?;
    let master = find_key(ring, &parts.key_id)?;
    let data_key = Zeroizing::new(decrypt(
        master.bytes(),
        parts.wrap_nonce,
        parts.wrapped,
        context,
    )?);
    let key: [u8; 32] = data_key
        .as_slice()
        .try_into()
        .map_err(|_| Error::Malformed("data key length"))?;
    let key = Zeroizing::new(key);
    decrypt(&key, parts.nonce, parts.ciphertext, context).map(Zeroizing::new)
}

/// Re-wraps the data key of a sealed secret under the ring's primary master key, leaving
/// the encrypted secret itself untouched. A secret already under the primary is returned as is.
pub fn rewrap(ring: &KeyRing, sealed: &[u8], context: &str) -> Result<Vec<u8>, Error> {
    let parts = Parts::read(sealed)?;
    if parts.key_id == *ring.primary().id() {
        return Ok(sealed.to_vec());
    }
    let master = find_key(ring, &parts.key_id)?;
    let data_key = Zeroizing::new(decrypt(
        master.bytes(),
        parts.wrap_nonce,
        parts.wrapped,
        context,
    )?);
    let primary = ring.primary();
    let (wrap_nonce, wrapped) = encrypt(primary.bytes(), &data_key, context)?;
    let mut out = Vec::with_capacity(sealed.len());
    out.push(VERSION);
    out.extend_from_slice(primary.id().as_bytes());
    out.extend_from_slice(&wrap_nonce);
    out.extend_from_slice(&wrapped);
    out.extend_from_slice(parts.nonce);
    out.extend_from_slice(parts.ciphertext);
    Ok(out)
}

/// The key that wrapped a secret; a key the ring lacks sends it back to its key file once,
/// since a rotation beside this process may have added it.
fn find_key(ring: &KeyRing, id: &KeyId) -> Result<MasterKey, Error> {
    if let Some(key) = ring.find(id) {
        return Ok(key);
    }
    ring.reload()?;
    ring.find(id).ok_or_else(|| Error::UnknownKey(id.clone()))
}

/// The master key id a sealed secret was wrapped with (to count what a rotation left).
pub fn sealed_key_id(sealed: &[u8]) -> Result<KeyId, Error> {
    Parts::read(sealed).map(|p| p.key_id)
}

struct Parts<'a> {
    key_id: KeyId,
    wrap_nonce: &'a [u8],
    wrapped: &'a [u8],
    nonce: &'a [u8],
    ciphertext: &'a [u8],
}

impl<'a> Parts<'a> {
    fn read(sealed: &'a [u8]) -> Result<Self, Error> {
        if sealed.len() < HEADER_LEN + 16 {
            return Err(Error::Malformed("too short"));
        }
        if sealed[0] != VERSION {
            return Err(Error::Malformed("unknown version"));
        }
        let (id, rest) = sealed[1..].split_at(ID_LEN);
        let (wrap_nonce, rest) = rest.split_at(NONCE_LEN);
        let (wrapped, rest) = rest.split_at(WRAPPED_LEN);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let key_id = KeyId::from_bytes(id).ok_or(Error::Malformed("key id"))?;
        Ok(Parts {
            key_id,
            wrap_nonce,
            wrapped,
            nonce,
            ciphertext,
        })
    }
}

fn cipher(key: &[u8; 32]) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.into())
}

fn encrypt(
    key: &[u8; 32],
    plaintext: &[u8],
    context: &str,
) -> Result<([u8; NONCE_LEN], Vec<u8>), Error> {
    let nonce = random::<NONCE_LEN>()?;
    let payload = Payload {
        msg: plaintext,
        aad: context.as_bytes(),
    };
    let ciphertext = cipher(key)
        .encrypt(&XNonce::from(nonce), payload)
        .map_err(|_| Error::Tampered)?;
    Ok((nonce, ciphertext))
}

fn decrypt(
    key: &[u8; 32],
    nonce: &[u8],
    ciphertext: &[u8],
    context: &str,
) -> Result<Vec<u8>, Error> {
    let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| Error::Malformed("nonce"))?;
    let payload = Payload {
        msg: ciphertext,
        aad: context.as_bytes(),
    };
    cipher(key)
        .decrypt(&XNonce::from(nonce), payload)
        .map_err(|_| Error::Tampered)
}

fn random<const N: usize>() -> Result<[u8; N], Error> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests;
