//! Encryption at rest for secrets the companion must be able to read back (an IdP's client
//! secret, the keys that sign the companion's own tokens).
//!
//! AES-256-GCM with a 32-byte master key that lives outside the database: in the settings
//! (`PECDESK_AUTH__MASTER_KEY`, base64) or in the file `master.key` of the data folder, created
//! on first start. A stolen database dump alone therefore reveals no secret. Every sealed value
//! is bound to a context string (the "associated data", e.g. `idp.client_secret:<org id>`), so
//! a ciphertext copied into another row or organisation does not decrypt.

use std::fmt;
use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use secrecy::{ExposeSecret, SecretString};

/// Prefix of a sealed value: format version 1 = `v1:` + base64(nonce 12 bytes ‖ ciphertext+tag).
const PREFIX: &str = "v1:";
/// File name of the generated master key inside the data folder.
pub const MASTER_KEY_FILE: &str = "master.key";

/// Why a secret could not be loaded, sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The master key is not 32 bytes of base64.
    #[error("the master key must be 32 bytes, base64-encoded")]
    BadMasterKey,
    /// Reading or writing the master key file failed.
    #[error("master key file: {0}")]
    Io(#[from] std::io::Error),
    /// The sealed value is not in the `v1:` format.
    #[error("sealed value has an unknown format")]
    Format,
    /// Wrong key, wrong context or tampered ciphertext (GCM tag mismatch).
    #[error("sealed value does not open with this key and context")]
    Open,
    /// Encryption failed (only for absurdly long inputs).
    #[error("could not seal the value")]
    Seal,
    /// The opened bytes are not UTF-8 text.
    #[error("sealed value is not text")]
    NotText,
}

/// The master key. `Debug` never prints it.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([REDACTED])")
    }
}

impl MasterKey {
    /// A key from 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(self.0))
    }

    /// A 32-byte key for another purpose, derived from this one and `context` (SHA-256 of
    /// the context, a zero byte and the key): the same master key always gives the same
    /// derived key, and a derived key reveals nothing of the master key.
    pub fn derive(&self, context: &str) -> [u8; 32] {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(context.as_bytes());
        h.update([0u8]);
        h.update(self.0);
        h.finalize().into()
    }

    /// A fresh random key (OS randomness).
    pub fn generate() -> Self {
        Self(Aes256Gcm::generate_key(OsRng).into())
    }

    /// A key given as base64 text (the `auth.master_key` setting).
    pub fn from_base64(text: &str) -> Result<Self, SecretsError> {
        let raw = B64
            .decode(text.trim())
            .map_err(|_| SecretsError::BadMasterKey)?;
        let bytes: [u8; 32] = raw.try_into().map_err(|_| SecretsError::BadMasterKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key as base64 text.
    pub fn to_base64(&self) -> SecretString {
        SecretString::from(B64.encode(self.0))
    }

    /// Loads `dir/master.key`, creating it (mode 0600 on Unix) with a random key if missing.
    pub fn load_or_create(dir: &Path) -> Result<Self, SecretsError> {
        let path = dir.join(MASTER_KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_base64(&text),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir)?;
                let key = Self::generate();
                write_private(&path, key.to_base64().expose_secret().as_bytes())?;
                Ok(key)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// Encrypts `plaintext` bound to `context`; a new random nonce every time.
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<String, SecretsError> {
        let cipher = self.cipher();
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: plaintext,
            aad: context.as_bytes(),
        };
        let sealed = cipher
            .encrypt(&nonce, payload)
            .map_err(|_| SecretsError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", B64.encode(out)))
    }

    /// Decrypts a value made by [`MasterKey::seal`] with the same `context`.
    pub fn open(&self, sealed: &str, context: &str) -> Result<Vec<u8>, SecretsError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(SecretsError::Format)?;
        let raw = B64.decode(body).map_err(|_| SecretsError::Format)?;
        if raw.len() < 12 + 16 {
            return Err(SecretsError::Format);
        }
        let (nonce, ciphertext) = raw.split_at(12);
        let cipher = self.cipher();
        let payload = Payload {
            msg: ciphertext,
            aad: context.as_bytes(),
        };
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| SecretsError::Format)?;
        cipher
            .decrypt(&Nonce::from(nonce), payload)
            .map_err(|_| SecretsError::Open)
    }

    /// [`MasterKey::seal`] for a secret string.
    pub fn seal_secret(
        &self,
        secret: &SecretString,
        context: &str,
    ) -> Result<String, SecretsError> {
        self.seal(secret.expose_secret().as_bytes(), context)
    }

    /// [`MasterKey::open`] for a secret string.
    pub fn open_secret(&self, sealed: &str, context: &str) -> Result<SecretString, SecretsError> {
        let bytes = self.open(sealed, context)?;
        let text = String::from_utf8(bytes).map_err(|_| SecretsError::NotText)?;
        Ok(SecretString::from(text))
    }
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    // create_new: never overwrite a key another process just wrote.
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_the_same_key_and_context() {
        let key = MasterKey::generate();
        let sealed = key
            .seal_secret(&SecretString::from("s3cret".to_owned()), "idp:1")
            .unwrap();
        assert!(sealed.starts_with("v1:"));
        assert!(!sealed.contains("s3cret"));
        let opened = key.open_secret(&sealed, "idp:1").unwrap();
        assert_eq!(opened.expose_secret(), "s3cret");
    }

    #[test]
    fn sealing_twice_gives_different_ciphertexts() {
        let key = MasterKey::generate();
        assert_ne!(key.seal(b"x", "c").unwrap(), key.seal(b"x", "c").unwrap());
    }

    #[test]
    fn a_sealed_secret_does_not_open_in_another_context_or_with_another_key() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"s3cret", "idp:org-a").unwrap();
        assert!(matches!(
            key.open(&sealed, "idp:org-b"),
            Err(SecretsError::Open)
        ));
        assert!(matches!(
            MasterKey::generate().open(&sealed, "idp:org-a"),
            Err(SecretsError::Open)
        ));
    }

    #[test]
    fn a_tampered_ciphertext_does_not_open() {
        let key = MasterKey::generate();
        let sealed = key.seal(b"s3cret", "c").unwrap();
        let mut raw = B64.decode(&sealed[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("v1:{}", B64.encode(raw));
        assert!(matches!(key.open(&tampered, "c"), Err(SecretsError::Open)));
        assert!(matches!(key.open("plain", "c"), Err(SecretsError::Format)));
    }

    #[test]
    fn the_master_key_file_is_created_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = MasterKey::load_or_create(dir.path()).unwrap();
        let sealed = first.seal(b"v", "c").unwrap();
        let second = MasterKey::load_or_create(dir.path()).unwrap();
        assert_eq!(second.open(&sealed, "c").unwrap(), b"v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(MASTER_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn a_master_key_of_the_wrong_length_is_refused() {
        assert!(matches!(
            MasterKey::from_base64("AAAA"),
            Err(SecretsError::BadMasterKey)
        ));
        assert!(format!("{:?}", MasterKey::generate()).contains("REDACTED"));
    }
}
