//! Master keys and the key ring: one primary key that seals, and retired keys that still
//! open what they sealed until a rotation has re-wrapped everything.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::RwLock;

use base64::Engine;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

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

/// The primary master key and any retired ones, optionally read from a key file that a
/// rotation rewrites while the service runs.
///
/// A key file holds one base64 key per line: the first line is the primary, which seals;
/// later lines only open what they sealed before a rotation re-wrapped it. When a sealed
/// secret names a key the ring does not hold, [`KeyRing::reload`] re-reads the file, so a
/// running service picks up a rotation made by `sfsync keys rotate` beside it.
#[derive(Debug)]
pub struct KeyRing {
    keys: RwLock<Keys>,
    file: Option<PathBuf>,
}

#[derive(Debug, Clone)]
struct Keys {
    primary: MasterKey,
    retired: Vec<MasterKey>,
}

impl KeyRing {
    /// A ring with one key.
    pub fn new(primary: MasterKey) -> Self {
        Self::rotated(primary, Vec::new())
    }

    /// The ring after a rotation: `primary` seals from now on, the others still open.
    pub fn rotated(primary: MasterKey, retired: Vec<MasterKey>) -> Self {
        KeyRing {
            keys: RwLock::new(Keys { primary, retired }),
            file: None,
        }
    }

    /// The ring a key file holds, remembering the file for [`KeyRing::reload`].
    pub fn from_file(path: &Path) -> Result<Self, Error> {
        let keys = read_key_file(path)?;
        Ok(KeyRing {
            keys: RwLock::new(keys),
            file: Some(path.to_owned()),
        })
    }

    /// The key that seals.
    pub fn primary(&self) -> MasterKey {
        self.read().primary.clone()
    }

    /// A key by id, primary or retired.
    pub fn find(&self, id: &KeyId) -> Option<MasterKey> {
        let keys = self.read();
        std::iter::once(&keys.primary)
            .chain(&keys.retired)
            .find(|k| k.id() == id)
            .cloned()
    }

    /// Re-reads the key file, if the ring came from one; whether the keys changed.
    pub fn reload(&self) -> Result<bool, Error> {
        let Some(path) = &self.file else {
            return Ok(false);
        };
        let fresh = read_key_file(path)?;
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        let changed =
            fresh.primary.id() != keys.primary.id() || fresh.retired.len() != keys.retired.len();
        *keys = fresh;
        Ok(changed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner())
    }
}

/// Parses a key file: one base64 key per line, the primary first; blank lines and lines
/// starting with `#` are skipped.
fn read_key_file(path: &Path) -> Result<Keys, Error> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .map_err(|e| Error::InvalidKey(format!("reading {}: {e}", path.display())))?,
    );
    let mut keys = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .enumerate()
        .map(|(i, line)| {
            MasterKey::from_base64(line)
                .map_err(|e| Error::InvalidKey(format!("{} line {}: {e}", path.display(), i + 1)))
        });
    let primary = keys
        .next()
        .ok_or_else(|| Error::InvalidKey(format!("{} holds no key", path.display())))??;
    let retired = keys.collect::<Result<Vec<_>, _>>()?;
    Ok(Keys { primary, retired })
}
