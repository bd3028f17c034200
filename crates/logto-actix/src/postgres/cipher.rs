//! Tokens encrypted at rest: AES-256-GCM under the application's token key.
//!
//! Every ciphertext is `nonce (12 bytes) || ciphertext || tag (16 bytes)`,
//! with a fresh random nonce per message. The associated data binds a
//! ciphertext to the row and column it was written for (e.g.
//! `logins:{id}:refresh_token`), so a ciphertext copied into another row or
//! column fails to decrypt instead of handing one user's token to another.

use std::fmt;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

/// The length of the AES-256 key, in bytes.
///
/// ```
/// assert!(logto_actix::postgres::TokenCipher::from_bytes(&[7; logto_actix::postgres::KEY_LEN]).is_ok());
/// ```
pub const KEY_LEN: usize = 32;
/// The length of the GCM nonce prefixed to every ciphertext, in bytes.
///
/// ```
/// use logto_actix::postgres::{NONCE_LEN, TAG_LEN, TokenCipher};
/// let cipher = TokenCipher::from_bytes(&[7; 32])?;
/// assert_eq!(cipher.encrypt(b"abc", b"aad").len(), NONCE_LEN + 3 + TAG_LEN);
/// # Ok::<(), logto_actix::postgres::CryptoError>(())
/// ```
pub const NONCE_LEN: usize = 12;
/// The length of the GCM authentication tag, in bytes.
///
/// ```
/// use logto_actix::postgres::{CryptoError, TAG_LEN, TokenCipher};
/// let cipher = TokenCipher::from_bytes(&[7; 32])?;
/// assert_eq!(cipher.decrypt(&[0; TAG_LEN], b"aad"), Err(CryptoError::Truncated));
/// # Ok::<(), CryptoError>(())
/// ```
pub const TAG_LEN: usize = 16;

/// Why a key could not be loaded or a ciphertext could not be opened.
///
/// The messages never contain key material or plaintext.
///
/// ```
/// use logto_actix::postgres::{CryptoError, TokenCipher};
/// assert_eq!(TokenCipher::from_bytes(&[0; 16]).unwrap_err(), CryptoError::KeyLength(16));
/// ```
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoError {
    /// The key is not base64 (standard or URL-safe, padded or not).
    #[error("the token key is not valid base64 (standard or URL-safe)")]
    KeyNotBase64,
    /// The key does not decode to exactly 32 bytes.
    #[error("the token key must decode to exactly {KEY_LEN} bytes, got {0}")]
    KeyLength(usize),
    /// The ciphertext is shorter than a nonce and a tag.
    #[error("ciphertext too short")]
    Truncated,
    /// Authentication failed: wrong key, tampered data, or associated data of
    /// another row or column.
    #[error("ciphertext failed authentication (wrong key, tampered data or wrong row)")]
    Decrypt,
    /// Encryption failed (only possible for absurdly large messages).
    #[error("encryption failed")]
    Encrypt,
}

/// AES-256-GCM with a random 96-bit nonce per message. `Debug` prints
/// `[redacted]`.
///
/// ```
/// use logto_actix::postgres::TokenCipher;
/// let cipher = TokenCipher::from_base64("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")?;
/// let sealed = cipher.encrypt(b"refresh token", b"logins:42:refresh_token");
/// assert_eq!(cipher.decrypt(&sealed, b"logins:42:refresh_token")?, b"refresh token");
/// assert!(cipher.decrypt(&sealed, b"logins:43:refresh_token").is_err());
/// assert_eq!(format!("{cipher:?}"), "TokenCipher([redacted])");
/// # Ok::<(), logto_actix::postgres::CryptoError>(())
/// ```
#[derive(Clone)]
pub struct TokenCipher {
    cipher: Aes256Gcm,
}

impl fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCipher([redacted])")
    }
}

impl TokenCipher {
    /// A cipher from a base64 key (standard or URL-safe alphabet, with or
    /// without padding; surrounding whitespace ignored) of exactly 32 bytes.
    /// Generate one with `openssl rand -base64 32`.
    ///
    /// ```
    /// use logto_actix::postgres::{CryptoError, TokenCipher};
    /// assert!(TokenCipher::from_base64(" AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n").is_ok());
    /// assert_eq!(TokenCipher::from_base64("not base64!").unwrap_err(), CryptoError::KeyNotBase64);
    /// ```
    pub fn from_base64(key: &str) -> Result<Self, CryptoError> {
        let key = key.trim();
        let mut bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(key).ok())
            .ok_or(CryptoError::KeyNotBase64)?;
        let result = Self::from_bytes(&bytes);
        bytes.fill(0);
        result
    }

    /// A cipher from raw key bytes (exactly 32).
    ///
    /// ```
    /// let cipher = logto_actix::postgres::TokenCipher::from_bytes(&[7; 32])?;
    /// # Ok::<(), logto_actix::postgres::CryptoError>(())
    /// ```
    pub fn from_bytes(key: &[u8]) -> Result<Self, CryptoError> {
        if key.len() != KEY_LEN {
            return Err(CryptoError::KeyLength(key.len()));
        }
        let cipher =
            Aes256Gcm::new_from_slice(key).map_err(|_| CryptoError::KeyLength(key.len()))?;
        Ok(Self { cipher })
    }

    /// Encrypts `plaintext` bound to `aad`; returns `nonce || ciphertext`.
    ///
    /// AES-GCM only fails for messages over 64 GiB; should that ever happen
    /// this returns a bare nonce, which [`TokenCipher::decrypt`] rejects
    /// (fail closed: the plaintext is never stored). Use
    /// [`TokenCipher::try_encrypt`] to see the error.
    ///
    /// ```
    /// # let cipher = logto_actix::postgres::TokenCipher::from_bytes(&[7; 32])?;
    /// let sealed = cipher.encrypt(b"secret", b"row 1");
    /// assert_ne!(sealed, cipher.encrypt(b"secret", b"row 1")); // a fresh nonce
    /// # Ok::<(), logto_actix::postgres::CryptoError>(())
    /// ```
    pub fn encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Vec<u8> {
        match self.try_encrypt(plaintext, aad) {
            Ok(out) => out,
            Err(_) => Aes256Gcm::generate_nonce(&mut OsRng).to_vec(),
        }
    }

    /// Encrypts `plaintext` bound to `aad`; returns `nonce || ciphertext`.
    ///
    /// ```
    /// # let cipher = logto_actix::postgres::TokenCipher::from_bytes(&[7; 32])?;
    /// let sealed = cipher.try_encrypt(b"secret", b"row 1")?;
    /// assert_eq!(cipher.decrypt(&sealed, b"row 1")?, b"secret");
    /// # Ok::<(), logto_actix::postgres::CryptoError>(())
    /// ```
    pub fn try_encrypt(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(out)
    }

    /// Opens `nonce || ciphertext` written by [`TokenCipher::encrypt`] with
    /// the same `aad`.
    ///
    /// ```
    /// use logto_actix::postgres::{CryptoError, TokenCipher};
    /// let cipher = TokenCipher::from_bytes(&[7; 32])?;
    /// let sealed = cipher.encrypt(b"secret", b"row 1");
    /// assert_eq!(cipher.decrypt(&sealed, b"row 2"), Err(CryptoError::Decrypt));
    /// # Ok::<(), CryptoError>(())
    /// ```
    pub fn decrypt(&self, data: &[u8], aad: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if data.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Truncated);
        }
        let (nonce, sealed) = data.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| CryptoError::Truncated)?;
        self.cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad })
            .map_err(|_| CryptoError::Decrypt)
    }
}

/// SHA-256 of `data` (how `state`s and browser bindings are stored).
///
/// ```
/// assert_eq!(logto_actix::postgres::sha256(b"abc").len(), 32);
/// ```
pub fn sha256(data: &[u8]) -> Vec<u8> {
    Sha256::digest(data).to_vec()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn keys_in_every_base64_flavour_load() {
        let raw: Vec<u8> = (0u8..32).collect();
        for k in [
            STANDARD.encode(&raw),
            STANDARD_NO_PAD.encode(&raw),
            URL_SAFE.encode(&raw),
            URL_SAFE_NO_PAD.encode(&raw),
            format!(" {KEY}\n"),
        ] {
            let c = TokenCipher::from_base64(&k).unwrap();
            let other = TokenCipher::from_bytes(&raw).unwrap();
            assert_eq!(other.decrypt(&c.encrypt(b"x", b"a"), b"a").unwrap(), b"x");
        }
        assert_eq!(
            TokenCipher::from_base64("not base64!").unwrap_err(),
            CryptoError::KeyNotBase64
        );
        assert_eq!(
            TokenCipher::from_base64(&STANDARD.encode([0u8; 16])).unwrap_err(),
            CryptoError::KeyLength(16)
        );
        assert_eq!(
            format!("{:?}", TokenCipher::from_base64(KEY).unwrap()),
            "TokenCipher([redacted])"
        );
    }

    #[test]
    fn nonces_are_fresh_and_short_input_is_rejected() {
        let c = TokenCipher::from_base64(KEY).unwrap();
        let a = c.encrypt(b"same", b"aad");
        let b = c.encrypt(b"same", b"aad");
        assert_ne!(a, b);
        assert_eq!(a.len(), NONCE_LEN + 4 + TAG_LEN);
        assert_eq!(
            c.decrypt(&a[..20], b"aad").unwrap_err(),
            CryptoError::Truncated
        );
        assert_eq!(sha256(b"abc").len(), 32);
    }
}
