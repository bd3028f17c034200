//! Test helpers: key generation, token signing and the captured Logto samples.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rand::rngs::OsRng;
use serde_json::{Value, json};

use crate::config::SigningAlgorithm;

pub(crate) const SAMPLE_DISCOVERY: &str = include_str!("../tests/fixtures/discovery.json");
pub(crate) const SAMPLE_JWKS: &str = include_str!("../tests/fixtures/jwks.json");
pub(crate) const SAMPLE_TOKENS: &str = include_str!("../tests/fixtures/token-responses.json");
pub(crate) const SAMPLE_ERRORS: &str = include_str!("../tests/fixtures/errors.json");
pub(crate) const SAMPLE_SIGN_IN: &str = include_str!("../tests/fixtures/sign-in.json");
pub(crate) const SAMPLE_LOGOUT_TOKEN: &str = include_str!("../tests/fixtures/logout-token.jwt");

pub(crate) const SAMPLE_ISSUER: &str = "http://127.0.0.1:3001/oidc";
pub(crate) const SAMPLE_APP_ID: &str = "uzhccc6bcqgd3bbq4vk6i";
pub(crate) const SAMPLE_NONCE: &str = "XW81Izx9t-4sfqo2";
/// `iat` of every token in token-responses.json.
pub(crate) const SAMPLE_IAT: i64 = 1_795_531_745;
/// `iat` of the logout token.
pub(crate) const SAMPLE_LOGOUT_IAT: i64 = 1_795_531_088;

/// The captured discovery document with every endpoint but the issuer moved to
/// port 0 of loopback, where nothing can listen: a request the client makes
/// fails at once with a transport error, whatever runs on the machine (a real
/// Logto on 3001 included).
pub(crate) fn unreachable_discovery() -> String {
    let mut doc: Value = serde_json::from_str(SAMPLE_DISCOVERY).unwrap();
    for (name, value) in doc.as_object_mut().unwrap() {
        if name != "issuer"
            && let Value::String(url) = value
            && url.starts_with("http://127.0.0.1:3001/")
        {
            *url = url.replacen("127.0.0.1:3001", "127.0.0.1:0", 1);
        }
    }
    doc.to_string()
}

pub(crate) fn sample_tokens() -> Value {
    serde_json::from_str(SAMPLE_TOKENS).unwrap()
}

pub(crate) fn sample_str(response: &str, field: &str) -> String {
    sample_tokens()[response][field]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) use ::test_support::{b64, hmac_sha256};

pub(crate) fn raw_token(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.to_string().as_bytes()),
        b64(claims.to_string().as_bytes()),
        b64(signature)
    )
}

enum Signer {
    P256(p256::ecdsa::SigningKey),
    P384(p384::ecdsa::SigningKey),
    P521(p521::ecdsa::SigningKey),
    Rsa(rsa::RsaPrivateKey),
}

/// A generated signing key with its JWK.
pub(crate) struct TestKey {
    pub(crate) kid: String,
    pub(crate) alg: SigningAlgorithm,
    signer: Signer,
}

impl TestKey {
    pub(crate) fn new(alg: SigningAlgorithm, kid: &str) -> Self {
        let signer = match alg {
            SigningAlgorithm::ES256 => Signer::P256(p256::ecdsa::SigningKey::random(&mut OsRng)),
            SigningAlgorithm::ES384 => Signer::P384(p384::ecdsa::SigningKey::random(&mut OsRng)),
            SigningAlgorithm::ES512 => Signer::P521(p521::ecdsa::SigningKey::random(&mut OsRng)),
            SigningAlgorithm::RS256 | SigningAlgorithm::PS256 => {
                Signer::Rsa(rsa::RsaPrivateKey::new(&mut OsRng, 2048).unwrap())
            }
        };
        Self {
            kid: kid.to_owned(),
            alg,
            signer,
        }
    }

    /// The same RSA key, used with another algorithm.
    pub(crate) fn with_alg(&self, alg: SigningAlgorithm) -> Self {
        let signer = match &self.signer {
            Signer::Rsa(k) => Signer::Rsa(k.clone()),
            _ => panic!("only RSA keys switch algorithms"),
        };
        Self {
            kid: self.kid.clone(),
            alg,
            signer,
        }
    }

    pub(crate) fn jwk(&self) -> Value {
        let ec = |crv: &str, x: &[u8], y: &[u8]| json!({"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y), "kid": self.kid, "use": "sig"});
        match &self.signer {
            Signer::P256(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                ec("P-256", p.x().unwrap(), p.y().unwrap())
            }
            Signer::P384(k) => {
                let p = k.verifying_key().to_encoded_point(false);
                ec("P-384", p.x().unwrap(), p.y().unwrap())
            }
            Signer::P521(k) => {
                let p = p521::ecdsa::VerifyingKey::from(k).to_encoded_point(false);
                ec("P-521", p.x().unwrap(), p.y().unwrap())
            }
            Signer::Rsa(k) => {
                use rsa::traits::PublicKeyParts;
                // RSA keys of Logto may carry no alg.
                json!({"kty": "RSA", "n": b64(&k.n().to_bytes_be()), "e": b64(&k.e().to_bytes_be()), "kid": self.kid})
            }
        }
    }

    pub(crate) fn sign_input(&self, input: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::{RandomizedSigner, SignatureEncoding, Signer as _};
        match (&self.signer, self.alg) {
            (Signer::P256(k), _) => {
                let s: p256::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            (Signer::P384(k), _) => {
                let s: p384::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            (Signer::P521(k), _) => {
                let s: p521::ecdsa::Signature = k.sign(input);
                s.to_bytes().to_vec()
            }
            (Signer::Rsa(k), SigningAlgorithm::PS256) => {
                let sk = rsa::pss::BlindedSigningKey::<sha2::Sha256>::new(k.clone());
                sk.sign_with_rng(&mut OsRng, input).to_vec()
            }
            (Signer::Rsa(k), _) => {
                let sk = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(k.clone());
                sk.sign(input).to_vec()
            }
        }
    }

    /// Signs `claims` with header `{alg, kid}` merged with `extra_header`.
    pub(crate) fn sign(&self, extra_header: Value, claims: &Value) -> String {
        let mut header = json!({"alg": self.alg.as_str(), "kid": self.kid});
        if let (Some(h), Value::Object(extra)) = (header.as_object_mut(), extra_header) {
            for (k, v) in extra {
                if v.is_null() {
                    h.remove(&k);
                } else {
                    h.insert(k, v);
                }
            }
        }
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig = self.sign_input(input.as_bytes());
        format!("{input}.{}", b64(&sig))
    }
}

pub(crate) fn jwks_of(keys: &[&TestKey]) -> Vec<u8> {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
        .to_string()
        .into_bytes()
}
