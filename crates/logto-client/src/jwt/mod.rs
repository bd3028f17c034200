//! Compact JWS decoding, JWKS keys, signature verification and claim checks.
//!
//! The policy is ours, the cryptography is not. ID, access and logout tokens
//! share one path. RS256, PS256, ES256 and ES384 keys and signatures are
//! `jsonwebtoken`'s (`DecodingKey::from_jwk`, `crypto::verify` with the pinned
//! algorithm; not its `decode`, which reads time claims its own way even with
//! its checks off and would pre-empt the typed errors of the checks here).
//! ES512 (P-521), which Logto can sign with, is verified by no maintained JOSE
//! crate (neither `jsonwebtoken` nor `openidconnect`): the `p521` crate
//! verifies it, this module only dispatches.
//!
//! Ours: the algorithms (pinned; never `none` or HMAC), the key (`kid`, `use`,
//! the key's `alg`, RSA of at least 2048 bits), the memo of verified
//! signatures, the limit on token length, the header (`jsonwebtoken`'s `alg`
//! is a closed enum without ES512 or `none`) and every claim check below.
//! openidconnect's ID-token verifier is not used although the client gets ID
//! tokens through openidconnect: it does not verify ES512 and has its own key
//! selection, claim checks and errors; one path keeps the memo and the typed
//! errors the same for all three kinds of token.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Digest;

use crate::config::SigningAlgorithm;
use crate::error::ValidationError;

/// The event key of a back-channel logout token: the `events` claim holds it
/// with an object value (OIDC Back-Channel Logout 1.0 §2.4). It lives here,
/// beside the logout-token check, so `claims` depends on `jwt` and not back.
///
/// ```
/// assert_eq!(
///     logto_client::BACKCHANNEL_LOGOUT_EVENT,
///     "http://schemas.openid.net/event/backchannel-logout"
/// );
/// ```
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

#[cfg(test)]
mod tests;

/// Tokens longer than this are refused before any decoding.
const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A decoded (not yet verified) compact JWS.
#[derive(Debug, Clone)]
pub(crate) struct Jws {
    pub(crate) alg: String,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
    pub(crate) claims: Map<String, Value>,
    /// The token as received.
    token: String,
    /// The length of the signing input (`header.payload`), a prefix of `token`.
    signing_input_len: usize,
    signature: Vec<u8>,
}

impl Jws {
    /// `header.payload`: the bytes signed.
    fn signing_input(&self) -> &[u8] {
        self.token
            .as_bytes()
            .get(..self.signing_input_len)
            .unwrap_or_default()
    }

    /// The signature as received (base64url).
    fn encoded_signature(&self) -> &str {
        self.token
            .get(self.signing_input_len + 1..)
            .unwrap_or_default()
    }
}

/// The header fields this verifier reads; other members are ignored.
#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    /// Whether `crit` is present at all (with any value, `null` included).
    #[serde(default, deserialize_with = "present")]
    crit: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

fn b64_decode(part: &str, what: &str) -> Result<Vec<u8>, ValidationError> {
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| ValidationError::Malformed(format!("{what} is not base64url")))
}

/// Deserializes a JSON object (a struct alone would also take an array, field
/// by field).
fn json_object<T: serde::de::DeserializeOwned>(
    json: &[u8],
    what: &str,
) -> Result<T, ValidationError> {
    if json.trim_ascii_start().first() != Some(&b'{') {
        return Err(ValidationError::Malformed(format!(
            "{what} is not an object"
        )));
    }
    serde_json::from_slice(json).map_err(|e| ValidationError::Malformed(format!("{what}: {e}")))
}

/// The three parts of a compact JWS (header, payload, signature), still
/// encoded; an overlong token is refused before it is looked at.
fn split_compact(token: &str) -> Result<[&str; 3], ValidationError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(ValidationError::Malformed("token too long".into()));
    }
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(h), Some(p), Some(s), None) => Ok([h, p, s]),
        _ => Err(ValidationError::NotAJwt),
    }
}

/// Splits and decodes a compact JWS. Checks nothing but the shape.
pub(crate) fn decode(token: &str) -> Result<Jws, ValidationError> {
    let [h, p, s] = split_compact(token)?;
    let header: Header = json_object(&b64_decode(h, "header")?, "header")?;
    let claims = json_object(&b64_decode(p, "payload")?, "payload")?;
    let signature = b64_decode(s, "signature")?;
    if header.crit {
        return Err(ValidationError::CriticalHeader);
    }
    Ok(Jws {
        alg: header.alg,
        kid: header.kid,
        typ: header.typ,
        claims,
        token: token.to_owned(),
        signing_input_len: h.len() + 1 + p.len(),
        signature,
    })
}

/// Decodes the claims of a JWT without verifying anything (tokens straight from
/// the token endpoint, or already verified when stored). Checks the shape
/// (three parts, a JSON object as payload) and decodes the payload alone,
/// straight into `T`: this runs on every signed-in request.
pub(crate) fn decode_claims<T: serde::de::DeserializeOwned>(
    token: &str,
) -> Result<T, ValidationError> {
    let [_, payload, _] = split_compact(token)?;
    let payload = b64_decode(payload, "payload")?;
    if payload.trim_ascii_start().first() != Some(&b'{') {
        return Err(ValidationError::Malformed(
            "payload is not an object".into(),
        ));
    }
    serde_json::from_slice(&payload).map_err(|e| ValidationError::Malformed(format!("claims: {e}")))
}

/// The public key of a JWKS entry, by curve or type.
#[derive(Clone)]
enum KeyMaterial {
    /// RS256 and PS256, verified by `jsonwebtoken`.
    Rsa(DecodingKey),
    /// ES256, verified by `jsonwebtoken`.
    P256(DecodingKey),
    /// ES384, verified by `jsonwebtoken`.
    P384(DecodingKey),
    /// ES512, verified by `p521`: no maintained JOSE crate does.
    P521(Box<p521::ecdsa::VerifyingKey>),
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KeyMaterial::P256(_) => "P-256",
            KeyMaterial::P384(_) => "P-384",
            KeyMaterial::P521(_) => "P-521",
            KeyMaterial::Rsa(_) => "RSA",
        })
    }
}

/// A usable public key of the JWKS.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    kid: Option<String>,
    alg: Option<String>,
    material: KeyMaterial,
}

impl Key {
    fn fits(&self, alg: SigningAlgorithm) -> bool {
        if self.alg.as_deref().is_some_and(|a| a != alg.as_str()) {
            return false;
        }
        matches!(
            (&self.material, alg),
            (KeyMaterial::P256(_), SigningAlgorithm::ES256)
                | (KeyMaterial::P384(_), SigningAlgorithm::ES384)
                | (KeyMaterial::P521(_), SigningAlgorithm::ES512)
                | (
                    KeyMaterial::Rsa(_),
                    SigningAlgorithm::RS256 | SigningAlgorithm::PS256
                )
        )
    }

    /// Verifies the signature of `jws` made with `alg` (which [`Key::fits`]).
    fn verify(&self, alg: SigningAlgorithm, jws: &Jws) -> Result<(), ValidationError> {
        use jsonwebtoken::Algorithm as A;
        use jsonwebtoken::errors::ErrorKind;
        let (key, alg) = match (&self.material, alg) {
            (KeyMaterial::P521(k), SigningAlgorithm::ES512) => {
                use p521::ecdsa::signature::Verifier;
                let ok = p521::ecdsa::Signature::from_slice(&jws.signature)
                    .is_ok_and(|s| k.verify(jws.signing_input(), &s).is_ok());
                return if ok {
                    Ok(())
                } else {
                    Err(ValidationError::InvalidSignature)
                };
            }
            (KeyMaterial::Rsa(k), SigningAlgorithm::RS256) => (k, A::RS256),
            (KeyMaterial::Rsa(k), SigningAlgorithm::PS256) => (k, A::PS256),
            (KeyMaterial::P256(k), SigningAlgorithm::ES256) => (k, A::ES256),
            (KeyMaterial::P384(k), SigningAlgorithm::ES384) => (k, A::ES384),
            _ => return Err(ValidationError::NoMatchingKey),
        };
        match jsonwebtoken::crypto::verify(jws.encoded_signature(), jws.signing_input(), key, alg) {
            Ok(true) => Ok(()),
            Ok(false) => Err(ValidationError::InvalidSignature),
            // A point not on the curve, an RSA key it cannot use.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidRsaKey(_)
                ) =>
            {
                Err(ValidationError::NoMatchingKey)
            }
            Err(_) => Err(ValidationError::InvalidSignature),
        }
    }
}

/// The usable keys of a JWKS. Keys of unsupported types are skipped.
///
/// A signature that verified is remembered (by the SHA-256 of the signing
/// input and signature) for as long as this key set is in use: the same
/// token presented again — a bearer token on every API call — costs a hash,
/// not a signature verification (see `docs/performance.md`). Only valid signatures are remembered, so forged tokens
/// cannot fill the memory; it holds at most [`MAX_REMEMBERED`] and starts
/// afresh when full. A new JWKS (a re-fetch) starts with nothing remembered.
/// Everything but the signature (algorithm pinning, claims, expiry) is
/// checked on every use.
#[derive(Debug, Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
    remembered: Arc<Mutex<HashSet<[u8; 32]>>>,
    /// Signature verifications actually computed (not remembered).
    computed: Arc<AtomicU64>,
}

/// The most signatures a key set remembers.
const MAX_REMEMBERED: usize = 10_000;

/// What identifies a signed token: its signing input and signature.
fn signature_digest(jws: &Jws) -> [u8; 32] {
    let mut h = sha2::Sha256::new();
    h.update(jws.signing_input());
    h.update([0u8]);
    h.update(&jws.signature);
    h.finalize().into()
}

/// A P-521 public key from its JWK coordinates (66 bytes each).
fn p521_key(x: &str, y: &str) -> Option<p521::ecdsa::VerifyingKey> {
    let mut point = vec![4u8];
    for coordinate in [x, y] {
        let bytes = URL_SAFE_NO_PAD.decode(coordinate).ok()?;
        if bytes.len() != 66 {
            return None;
        }
        point.extend(bytes);
    }
    p521::ecdsa::VerifyingKey::from_sec1_bytes(&point).ok()
}

/// An RSA key usable by policy: a valid public key of at least 2048 bits.
fn rsa_key_allowed(key: &DecodingKey) -> bool {
    use rsa::traits::PublicKeyParts;
    let jsonwebtoken::DecodingKeyKind::RsaModulusExponent { n, e } = key.kind() else {
        return false;
    };
    rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(n),
        rsa::BigUint::from_bytes_be(e),
    )
    .is_ok_and(|k| k.size() >= 256)
}

fn parse_jwk(value: &Value) -> Option<Key> {
    let jwk = Jwk::deserialize(value).ok()?;
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let material = match &jwk.algorithm {
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => KeyMaterial::P256(DecodingKey::from_jwk(&jwk).ok()?),
            EllipticCurve::P384 => KeyMaterial::P384(DecodingKey::from_jwk(&jwk).ok()?),
            EllipticCurve::P521 => KeyMaterial::P521(Box::new(p521_key(&ec.x, &ec.y)?)),
            _ => return None,
        },
        AlgorithmParameters::RSA(_) => {
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            if !rsa_key_allowed(&key) {
                return None;
            }
            KeyMaterial::Rsa(key)
        }
        _ => return None,
    };
    Some(Key {
        kid: jwk.common.key_id,
        // As written: `jsonwebtoken` reads ES512 as an unknown algorithm.
        alg: value.get("alg").and_then(Value::as_str).map(str::to_owned),
        material,
    })
}

impl KeySet {
    /// Parses a JWKS document (`{"keys": [...]}`).
    pub(crate) fn parse(json: &[u8]) -> Result<Self, String> {
        let doc: Value =
            serde_json::from_slice(json).map_err(|e| format!("JWKS is not JSON: {e}"))?;
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| "JWKS has no keys array".to_owned())?;
        Ok(Self {
            keys: keys.iter().filter_map(parse_jwk).collect(),
            ..Self::default()
        })
    }

    /// The number of usable keys.
    #[cfg(test)]
    #[allow(dead_code)]
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Verifies the signature of `jws`. `allowed` pins the algorithms.
    pub(crate) fn verify(
        &self,
        jws: &Jws,
        allowed: &[SigningAlgorithm],
    ) -> Result<SigningAlgorithm, ValidationError> {
        let alg = SigningAlgorithm::from_alg(&jws.alg)
            .filter(|a| allowed.contains(a))
            .ok_or_else(|| ValidationError::AlgorithmNotAllowed(jws.alg.clone()))?;
        let digest = signature_digest(jws);
        if self
            .remembered
            .lock()
            .is_ok_and(|seen| seen.contains(&digest))
        {
            return Ok(alg);
        }
        let key = match &jws.kid {
            Some(kid) => {
                let mut with_kid = self
                    .keys
                    .iter()
                    .filter(|k| k.kid.as_deref() == Some(kid))
                    .peekable();
                if with_kid.peek().is_none() {
                    return Err(ValidationError::UnknownKeyId(Some(kid.clone())));
                }
                with_kid
                    .find(|k| k.fits(alg))
                    .ok_or(ValidationError::NoMatchingKey)?
            }
            None => {
                let mut fitting = self.keys.iter().filter(|k| k.fits(alg));
                match (fitting.next(), fitting.next()) {
                    (Some(k), None) => k,
                    (None, _) => return Err(ValidationError::UnknownKeyId(None)),
                    (Some(_), Some(_)) => return Err(ValidationError::NoMatchingKey),
                }
            }
        };
        self.computed.fetch_add(1, Ordering::Relaxed);
        key.verify(alg, jws)?;
        if let Ok(mut seen) = self.remembered.lock() {
            if seen.len() >= MAX_REMEMBERED {
                seen.clear();
            }
            seen.insert(digest);
        }
        Ok(alg)
    }

    /// Signature verifications computed so far (remembered ones not counted).
    #[cfg(test)]
    pub(crate) fn computed(&self) -> u64 {
        self.computed.load(Ordering::Relaxed)
    }
}

/// A NumericDate (RFC 7519 §2: seconds since the epoch, a fraction allowed)
/// as whole seconds, rounded down; `None` when it is not finite or beyond
/// ±10^15 s (the bound keeps the conversion exact).
pub(crate) fn numeric_date(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64().filter(|f| f.is_finite() && f.abs() <= 1e15)?;
    #[allow(clippy::cast_possible_truncation)]
    Some(f.floor() as i64)
}

/// Reads a NumericDate claim. Strings, booleans and the like are refused.
pub(crate) fn numeric_claim(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<i64>, ValidationError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            numeric_date(n)
                .map(Some)
                .ok_or_else(|| ValidationError::InvalidClaim {
                    claim: name,
                    reason: "out of range".into(),
                })
        }
        Some(_) => Err(ValidationError::InvalidClaim {
            claim: name,
            reason: "not a number".into(),
        }),
    }
}

fn string_claim<'a>(
    claims: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, ValidationError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ValidationError::InvalidClaim {
            claim: name,
            reason: "not a string".into(),
        }),
    }
}

fn audiences(claims: &Map<String, Value>) -> Result<Vec<&str>, ValidationError> {
    match claims.get("aud") {
        None => Err(ValidationError::MissingClaim("aud")),
        Some(Value::String(s)) => Ok(vec![s.as_str()]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str().ok_or(ValidationError::InvalidClaim {
                    claim: "aud",
                    reason: "not a string".into(),
                })
            })
            .collect(),
        Some(_) => Err(ValidationError::InvalidClaim {
            claim: "aud",
            reason: "not a string or array".into(),
        }),
    }
}

/// What every JWT from the issuer must satisfy.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expect<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) audience: &'a str,
    pub(crate) now: i64,
    pub(crate) skew: i64,
    /// The most seconds since `iat` (beyond the skew), when bounded (ID tokens).
    pub(crate) max_age: Option<i64>,
    /// ID tokens: the audiences besides `audience` that may appear, when they
    /// are checked here (`None`: the caller checks them).
    pub(crate) trusted_audiences: Option<&'a [String]>,
}

/// Checks `iss`, `aud`, `exp` (required), `iat` (required unless `require_iat` is
/// false; not older than `max_age` when given), `nbf`; types of every time claim.
pub(crate) fn check_common(
    claims: &Map<String, Value>,
    expect: &Expect<'_>,
    require_iat: bool,
) -> Result<(), ValidationError> {
    let exp = numeric_claim(claims, "exp")?;
    let iat = numeric_claim(claims, "iat")?;
    let nbf = numeric_claim(claims, "nbf")?;
    numeric_claim(claims, "auth_time")?;
    match string_claim(claims, "iss")? {
        Some(iss) if iss == expect.issuer => {}
        Some(_) => return Err(ValidationError::IssuerMismatch),
        None => return Err(ValidationError::MissingClaim("iss")),
    }
    if !audiences(claims)?.contains(&expect.audience) {
        return Err(ValidationError::AudienceMismatch);
    }
    let exp = exp.ok_or(ValidationError::MissingClaim("exp"))?;
    if expect.now.saturating_sub(expect.skew) >= exp {
        return Err(ValidationError::Expired);
    }
    match iat {
        Some(iat) if iat > expect.now.saturating_add(expect.skew) => {
            return Err(ValidationError::IssuedInFuture);
        }
        None if require_iat => return Err(ValidationError::MissingClaim("iat")),
        _ => {}
    }
    if nbf.is_some_and(|nbf| nbf > expect.now.saturating_add(expect.skew)) {
        return Err(ValidationError::NotYetValid);
    }
    if let (Some(max_age), Some(iat)) = (expect.max_age, iat)
        && expect.now.saturating_sub(iat) > max_age.saturating_add(expect.skew)
    {
        return Err(ValidationError::IssuedTooLongAgo);
    }
    Ok(())
}

/// Checks an ID token's claims beyond [`check_common`]: `azp`, `nonce`, `at_hash`,
/// and that it is not a logout or access token.
pub(crate) fn check_id_token(
    jws: &Jws,
    alg: SigningAlgorithm,
    expect: &Expect<'_>,
    nonce: Option<&str>,
    access_token: Option<&str>,
) -> Result<(), ValidationError> {
    if let Some(typ) = &jws.typ {
        let t = typ.to_ascii_lowercase();
        if t != "jwt" && t != "application/jwt" {
            return Err(ValidationError::WrongType {
                expected: "JWT (or none)",
                found: Some(typ.clone()),
            });
        }
    }
    let claims = &jws.claims;
    check_common(claims, expect, true)?;
    if claims.contains_key("events") {
        return Err(ValidationError::InvalidClaim {
            claim: "events",
            reason: "a logout token is not an ID token".into(),
        });
    }
    match string_claim(claims, "sub")? {
        Some(s) if !s.is_empty() => {}
        _ => return Err(ValidationError::MissingClaim("sub")),
    }
    // OIDC Core §3.1.3.7 items 3–5: refused when it names an audience this
    // client does not trust, or an `azp` other than this client.
    if string_claim(claims, "azp")?.is_some_and(|a| a != expect.audience) {
        return Err(ValidationError::AudienceMismatch);
    }
    if let Some(trusted) = expect.trusted_audiences
        && audiences(claims)?
            .into_iter()
            .any(|a| a != expect.audience && !trusted.iter().any(|t| t == a))
    {
        return Err(ValidationError::AudienceMismatch);
    }
    if let Some(expected) = nonce {
        match string_claim(claims, "nonce")? {
            Some(n) if n == expected => {}
            _ => return Err(ValidationError::NonceMismatch),
        }
    }
    if let (Some(at_hash), Some(access_token)) = (string_claim(claims, "at_hash")?, access_token)
        && at_hash != access_token_hash(alg, access_token)
    {
        return Err(ValidationError::AccessTokenHashMismatch);
    }
    Ok(())
}

/// `at_hash`: the left half of the hash of the access token, base64url.
pub(crate) fn access_token_hash(alg: SigningAlgorithm, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlgorithm::RS256 | SigningAlgorithm::PS256 | SigningAlgorithm::ES256 => {
            sha2::Sha256::digest(access_token.as_bytes()).to_vec()
        }
        SigningAlgorithm::ES384 => sha2::Sha384::digest(access_token.as_bytes()).to_vec(),
        SigningAlgorithm::ES512 => sha2::Sha512::digest(access_token.as_bytes()).to_vec(),
    };
    let half = digest.get(..digest.len() / 2).unwrap_or_default();
    URL_SAFE_NO_PAD.encode(half)
}

/// Checks a JWT access token (RFC 9068): `typ` is `at+jwt`, plus [`check_common`].
pub(crate) fn check_access_token(jws: &Jws, expect: &Expect<'_>) -> Result<(), ValidationError> {
    let ok = jws
        .typ
        .as_deref()
        .map(str::to_ascii_lowercase)
        .is_some_and(|t| t == "at+jwt" || t == "application/at+jwt");
    if !ok {
        return Err(ValidationError::WrongType {
            expected: "at+jwt",
            found: jws.typ.clone(),
        });
    }
    check_common(&jws.claims, expect, true)
}

/// Checks a logout token (Back-Channel Logout 1.0 §2.6).
pub(crate) fn check_logout_token(jws: &Jws, expect: &Expect<'_>) -> Result<(), ValidationError> {
    if let Some(typ) = &jws.typ {
        let t = typ.to_ascii_lowercase();
        if t != "logout+jwt" && t != "application/logout+jwt" {
            return Err(ValidationError::WrongType {
                expected: "logout+jwt",
                found: Some(typ.clone()),
            });
        }
    }
    let claims = &jws.claims;
    check_common(claims, expect, true)?;
    if claims.get("exp").is_none() {
        return Err(ValidationError::MissingClaim("exp"));
    }
    match claims.get("events") {
        Some(Value::Object(events)) => match events.get(BACKCHANNEL_LOGOUT_EVENT) {
            Some(Value::Object(_)) => {}
            _ => {
                return Err(ValidationError::InvalidClaim {
                    claim: "events",
                    reason: "no back-channel logout event object".into(),
                });
            }
        },
        Some(_) => {
            return Err(ValidationError::InvalidClaim {
                claim: "events",
                reason: "not an object".into(),
            });
        }
        None => return Err(ValidationError::MissingClaim("events")),
    }
    if claims.contains_key("nonce") {
        return Err(ValidationError::InvalidClaim {
            claim: "nonce",
            reason: "forbidden in a logout token".into(),
        });
    }
    let sub = string_claim(claims, "sub")?;
    let sid = string_claim(claims, "sid")?;
    if sub.is_none() && sid.is_none() {
        return Err(ValidationError::MissingClaim("sub or sid"));
    }
    match string_claim(claims, "jti")? {
        Some(j) if !j.is_empty() => {}
        _ => return Err(ValidationError::MissingClaim("jti")),
    }
    let auds = audiences(claims)?;
    if auds.len() > 1 {
        // Extra audiences we do not trust.
        return Err(ValidationError::AudienceMismatch);
    }
    Ok(())
}
