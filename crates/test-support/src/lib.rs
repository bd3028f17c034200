//! Helpers shared by the workspace's tests and by `xtask`: one copy of each
//! instead of one per test file. Only ever a dev-dependency of the library
//! crates (xtask, a developer tool, uses it directly).

use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};

/// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0 and
/// released), for a child process that must be told its port up front.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("probing for a free port")?;
    Ok(listener.local_addr()?.port())
}

/// Polls every 50 ms until `addr` accepts TCP connections. Between tries
/// `still_starting` may give up (a child exited, the user interrupted); after
/// `within` it fails.
pub fn wait_listening(
    addr: impl ToSocketAddrs + std::fmt::Display,
    within: Duration,
    mut still_starting: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    loop {
        if TcpStream::connect(&addr).is_ok() {
            return Ok(());
        }
        still_starting()?;
        if Instant::now() > deadline {
            bail!("{addr} did not start listening within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Base64url without padding, as in a JWS/JWK.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// HMAC-SHA256 of `msg` under `key` (for hand-made HS256 tokens that must be
/// refused).
pub fn hmac_sha256(key: &[u8], msg: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(key) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(msg);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn b64_is_unpadded_url_safe() {
        assert_eq!(b64(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port().unwrap();
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
    }
}
