//! Signing keys, the JWKS and JWT signing.

use std::sync::{Mutex, OnceLock};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p384::ecdsa::signature::Signer;
use rsa::signature::SignatureEncoding;
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::settings::SigningAlg;

pub(crate) fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// RSA keys are slow to generate: every process generates them once and shares them.
static RSA_POOL: OnceLock<Mutex<Vec<rsa::RsaPrivateKey>>> = OnceLock::new();

fn rsa_key(index: usize) -> Result<rsa::RsaPrivateKey, Error> {
    let pool = RSA_POOL.get_or_init(|| Mutex::new(Vec::new()));
    let mut keys = pool.lock().map_err(|_| Error::Poisoned)?;
    while keys.len() <= index {
        let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048)
            .map_err(|e| Error::KeyGeneration(e.to_string()))?;
        keys.push(key);
    }
    keys.get(index)
        .cloned()
        .ok_or_else(|| Error::KeyGeneration("RSA pool".to_owned()))
}

enum Material {
    Es384(p384::ecdsa::SigningKey),
    Rs256(Box<rsa::pkcs1v15::SigningKey<Sha256>>),
}

/// One signing key with its public JWK.
pub(crate) struct Key {
    material: Material,
    pub(crate) kid: String,
    pub(crate) jwk: Value,
}

impl Key {
    fn generate(alg: SigningAlg, rsa_index: &mut usize) -> Result<Key, Error> {
        match alg {
            SigningAlg::Es384 => {
                let sk = p384::ecdsa::SigningKey::random(&mut rand::rngs::OsRng);
                let point = sk.verifying_key().to_encoded_point(false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else {
                    return Err(Error::KeyGeneration("P-384 point".to_owned()));
                };
                let (x, y) = (b64(x), b64(y));
                let kid = thumbprint(&format!(
                    r#"{{"crv":"P-384","kty":"EC","x":"{x}","y":"{y}"}}"#
                ));
                let jwk = json!({
                    "kty": "EC", "use": "sig", "kid": kid, "alg": "ES384",
                    "crv": "P-384", "x": x, "y": y,
                });
                Ok(Key {
                    material: Material::Es384(sk),
                    kid,
                    jwk,
                })
            }
            SigningAlg::Rs256 => {
                let key = rsa_key(*rsa_index)?;
                *rsa_index += 1;
                let n = b64(&key.n().to_bytes_be());
                let e = b64(&key.e().to_bytes_be());
                let kid = thumbprint(&format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#));
                // Like Logto: RSA keys carry no `alg` (several algorithms fit them).
                let jwk = json!({ "kty": "RSA", "use": "sig", "kid": kid, "e": e, "n": n });
                Ok(Key {
                    material: Material::Rs256(Box::new(rsa::pkcs1v15::SigningKey::<Sha256>::new(
                        key,
                    ))),
                    kid,
                    jwk,
                })
            }
        }
    }

    pub(crate) fn alg(&self) -> &'static str {
        match self.material {
            Material::Es384(_) => "ES384",
            Material::Rs256(_) => "RS256",
        }
    }

    fn sign(&self, input: &[u8]) -> Vec<u8> {
        match &self.material {
            Material::Es384(sk) => {
                let sig: p384::ecdsa::Signature = sk.sign(input);
                sig.to_bytes().to_vec()
            }
            Material::Rs256(sk) => {
                let sig: rsa::pkcs1v15::Signature = sk.sign(input);
                sig.to_vec()
            }
        }
    }
}

fn thumbprint(canonical: &str) -> String {
    b64(&Sha256::digest(canonical.as_bytes()))
}

/// The key set: current key first, then the previous one (like Logto's JWKS order).
pub(crate) struct KeySet {
    keys: Vec<Key>,
    rsa_index: usize,
}

impl KeySet {
    pub(crate) fn new(alg: SigningAlg) -> Result<KeySet, Error> {
        let mut rsa_index = 0;
        let key = Key::generate(alg, &mut rsa_index)?;
        Ok(KeySet {
            keys: vec![key],
            rsa_index,
        })
    }

    /// A new current key; the old current key is kept as the previous one.
    pub(crate) fn rotate(&mut self, alg: SigningAlg) -> Result<(), Error> {
        let key = Key::generate(alg, &mut self.rsa_index)?;
        self.keys.insert(0, key);
        self.keys.truncate(2);
        Ok(())
    }

    pub(crate) fn current(&self) -> Option<&Key> {
        self.keys.first()
    }

    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() })
    }

    /// Signs a JWT with the current key. `typ` is omitted for ID tokens (Logto ≥ 1.42).
    pub(crate) fn sign(&self, typ: Option<&str>, claims: &Value) -> Result<String, Error> {
        let header = match typ {
            Some(typ) => json!({ "typ": typ }),
            None => json!({}),
        };
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` with the current key under `header` as given, except that a
    /// missing `alg` or `kid` is filled in from the key (tests forge odd headers).
    pub(crate) fn sign_with_header(&self, header: &Value, claims: &Value) -> Result<String, Error> {
        let key = self.current().ok_or(Error::NoKey)?;
        let mut header = header.clone();
        if let Value::Object(h) = &mut header {
            h.entry("alg").or_insert_with(|| json!(key.alg()));
            h.entry("kid").or_insert_with(|| json!(key.kid));
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = key.sign(input.as_bytes());
        Ok(format!("{input}.{}", b64(&signature)))
    }
}

/// Decodes the payload of a compact JWT without verifying it.
pub(crate) fn decode_unverified(jwt: &str) -> Option<(Value, Value)> {
    let mut parts = jwt.split('.');
    let header = parts.next()?;
    let payload = parts.next()?;
    let _signature = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let payload: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    Some((header, payload))
}

/// An opaque random token of 43 base64url characters (like oidc-provider's).
pub(crate) fn random_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    b64(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn es384_signature_is_96_bytes_and_kid_is_thumbprint() {
        let set = KeySet::new(SigningAlg::Es384).unwrap();
        let jwt = set.sign(Some("at+jwt"), &json!({"a": 1})).unwrap();
        let sig = jwt.rsplit('.').next().unwrap();
        assert_eq!(URL_SAFE_NO_PAD.decode(sig).unwrap().len(), 96);
        let key = set.current().unwrap();
        let jwk = &key.jwk;
        let canonical = format!(
            r#"{{"crv":"P-384","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        );
        assert_eq!(key.kid, thumbprint(&canonical));
        let (header, _) = decode_unverified(&jwt).unwrap();
        assert_eq!(header["kid"], json!(key.kid));
        assert_eq!(header["typ"], json!("at+jwt"));
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        // RFC 7638 §3.1 example key.
        let canonical = r#"{"e":"AQAB","kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}"#;
        assert_eq!(
            thumbprint(canonical),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
