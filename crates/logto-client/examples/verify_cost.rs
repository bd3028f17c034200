//! Measures what verifying a Logto access token costs: the captured ES384
//! token of the test fixtures, verified by fresh clients (every signature
//! computed) and by one client again and again (every signature remembered).
//!
//! Run with `cargo run --release -p logto-client --example verify_cost [ROUNDS]`.

use std::sync::Arc;
use std::time::Instant;

use logto_client::{FixedClock, LogtoClient, LogtoConfig, ResourceIndicator};

const DISCOVERY: &str = include_str!("../tests/fixtures/discovery.json");
const JWKS: &str = include_str!("../tests/fixtures/jwks.json");
const TOKENS: &str = include_str!("../tests/fixtures/token-responses.json");
/// `iat` of every token in token-responses.json.
const IAT: i64 = 1_795_531_745;
const APP_ID: &str = "uzhccc6bcqgd3bbq4vk6i";
const AUDIENCE: &str = "https://api.demo.test";

fn client() -> Result<LogtoClient, logto_client::Error> {
    let config = LogtoConfig::new("http://127.0.0.1:3001/", APP_ID, None)?
        .with_clock(Arc::new(FixedClock::new(IAT)));
    LogtoClient::with_discovery_document(config, DISCOVERY.as_bytes(), Some(JWKS.as_bytes()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let rounds: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(300);
    let audience = ResourceIndicator::parse(AUDIENCE)?;
    let tokens: serde_json::Value = serde_json::from_str(TOKENS)?;
    let token = tokens["code_exchange"]["access_token"]
        .as_str()
        .ok_or("no access token in the fixture")?;

    // Fresh clients, built before the clock starts: each verification computes
    // the signature.
    let clients = (0..rounds)
        .map(|_| client())
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    for c in &clients {
        c.verify_access_token(token, &audience).await?;
    }
    let computed = start.elapsed() / u32::try_from(rounds)?;

    // One client: the signature is remembered after the first call.
    let one = client()?;
    one.verify_access_token(token, &audience).await?;
    let repeats = rounds * 100;
    let start = Instant::now();
    for _ in 0..repeats {
        one.verify_access_token(token, &audience).await?;
    }
    let remembered = start.elapsed() / u32::try_from(repeats)?;

    println!("ES384 access token, {rounds} rounds");
    println!("  signature computed:   {computed:>10.1?} per verification");
    println!("  signature remembered: {remembered:>10.1?} per verification");
    Ok(())
}
