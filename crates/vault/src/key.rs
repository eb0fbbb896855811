//! Master keys and the key ring: one primary key that seals, and retired keys that still
//! open what they sealed until a rotation has re-wrapped everything.

use std::fmt;

use base64::Engine;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Error;

/// A short, public name of a master key: the first 8 bytes of SHA-256 of the key, in hex.
/// It identifies which key sealed a secret without revealing anything of the key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct KeyId([u8; 8]);

impl KeyId {
    pub(crate) fn from_bytes(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(KeyId)
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// A 32-byte master key. Its bytes are wiped on drop and never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    bytes: [u8; 32],
    #[zeroize(skip)]
    id: KeyId,
}

impl MasterKey {
    /// A key from its 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let digest = Sha256::digest(bytes);
        let id = KeyId(digest[..8].try_into().expect("SHA-256 is 32 bytes"));
        MasterKey { bytes, id }
    }

    /// A key from its text form: 32 bytes in standard base64 (as `SFSYNC_MASTER_KEY` holds it),
    /// surrounding whitespace ignored (as a key file may end with a newline).
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| Error::InvalidKey("not base64".into()))?;
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| Error::InvalidKey(format!("{} bytes, expected 32", decoded.len())))?;
        Ok(Self::from_bytes(bytes))
    }

    /// A fresh random key, and its text form for `SFSYNC_MASTER_KEY`.
    pub fn generate() -> Result<(Self, String), Error> {
        let bytes = crate::random::<32>()?;
        let text = base64::engine::general_purpose::STANDARD.encode(bytes);
        Ok((Self::from_bytes(bytes), text))
    }

    /// The key's public id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MasterKey({}, [redacted])", self.id)
    }
}

/// The primary master key and any retired ones.
#[derive(Debug, Clone)]
pub struct KeyRing {
    primary: MasterKey,
    retired: Vec<MasterKey>,
}

impl KeyRing {
    /// A ring with one key.
    pub fn new(primary: MasterKey) -> Self {
        KeyRing {
            primary,
            retired: Vec::new(),
        }
    }

    /// The ring after a rotation: `primary` seals from now on, the others still open.
    pub fn rotated(primary: MasterKey, retired: Vec<MasterKey>) -> Self {
        KeyRing { primary, retired }
    }

    /// The key that seals.
    pub fn primary(&self) -> &MasterKey {
        &self.primary
    }

    /// A key by id, primary or retired.
    pub fn find(&self, id: &KeyId) -> Option<&MasterKey> {
        std::iter::once(&self.primary)
            .chain(&self.retired)
            .find(|k| k.id() == id)
    }
}
