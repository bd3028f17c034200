//! A headless Chromium behind its own `chromedriver` child process.
//!
//! [`Browser::start`] picks a free loopback port, starts
//! `/usr/bin/chromedriver --port=…`, polls its `/status` until it is ready
//! (with a deadline) and opens a WebDriver session with a fresh profile
//! directory. Dropping the [`Browser`] — also when a test panics — ends the
//! session (so chromedriver closes Chromium), kills chromedriver and removes
//! the profile directory.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// How long chromedriver may take to answer, and Chromium to open a session.
const START: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug)]
pub enum Window {
    /// 1280×900: the README's screenshots.
    Desktop,
    /// A 390×844 phone viewport (device emulation, 2× pixels).
    Phone,
}

impl Window {
    fn size(self) -> (u32, u32) {
        match self {
            Window::Desktop => (1280, 900),
            Window::Phone => (390, 844),
        }
    }
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    addr: SocketAddr,
    session: Option<String>,
    profile: PathBuf,
}

impl Browser {
    /// Panics with a clear message when Chromium or chromedriver is missing:
    /// a browser test that runs must not pass without a browser (`cargo xtask
    /// test` leaves this binary out, counted as skipped, on such a machine).
    pub async fn start(window: Window) -> Self {
        for binary in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(binary).exists(),
                "{binary} is missing: install Chromium and its driver \
                 (Debian: `sudo apt-get install chromium chromium-driver`; \
                 `cargo xtask test` does it when run as root)"
            );
        }
        let profile = std::env::temp_dir().join(format!("portal-browser-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&profile).unwrap();
        let (driver, addr) = spawn_chromedriver(&profile).await;
        let mut browser = Browser {
            client: connect(addr, &profile, window).await,
            driver,
            addr,
            session: None,
            profile,
        };
        browser.session = browser.client.session_id().await.unwrap();
        browser
    }

    /// Ends the session (Chromium quits); the rest happens on drop.
    pub async fn close(mut self) {
        if self.client.clone().close().await.is_ok() {
            self.session = None;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            // Blocking on purpose: we may be unwinding, with no runtime to
            // await on. chromedriver closes Chromium when its session ends.
            let _ = blocking_request(self.addr, "DELETE", &format!("/session/{id}"));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Starts chromedriver on a free port and waits until it reports ready.
async fn spawn_chromedriver(profile: &Path) -> (Child, SocketAddr) {
    let log = profile.join("chromedriver.log");
    let mut last_error = String::new();
    // The port is free when we look; another process may take it before
    // chromedriver binds it, so a start that fails that way is retried.
    for _attempt in 0..3 {
        let addr = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        let mut child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={}", addr.port()))
            .arg(format!("--log-path={}", log.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
        match wait_ready(&mut child, addr).await {
            Ok(()) => return (child, addr),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                last_error = e;
            }
        }
    }
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    panic!("chromedriver did not start: {last_error}\n{log}");
}

/// Polls `GET /status` until `value.ready` is true, the child exits, or the
/// deadline passes.
async fn wait_ready(child: &mut Child, addr: SocketAddr) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .no_proxy()
        .build()
        .unwrap();
    let deadline = tokio::time::Instant::now() + START;
    let url = format!("http://{addr}/status");
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("chromedriver exited with {status}"));
        }
        if let Ok(res) = http.get(&url).send().await
            && let Ok(body) = res.json::<serde_json::Value>().await
            && body["value"]["ready"] == true
        {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("no ready answer from {url} within {START:?}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn connect(addr: SocketAddr, profile: &Path, window: Window) -> Client {
    let (width, height) = window.size();
    let user_data = profile.join("profile");
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-dev-shm-usage",
                format!("--user-data-dir={}", user_data.display()),
                format!("--window-size={width},{height}"),
                // Nothing beyond loopback: no default-browser probe, no
                // translation or media-router lookups.
                "--no-default-browser-check",
                "--disable-features=Translate,MediaRouter,OptimizationHints",
            ],
        },
    });
    let mut capabilities = capabilities;
    if let Window::Phone = window {
        // Headless Chromium keeps windows at least 500 px wide; a phone's
        // viewport comes from device emulation instead.
        capabilities["goog:chromeOptions"]["mobileEmulation"] = json!({
            "deviceMetrics": {
                "width": width,
                "height": height,
                "pixelRatio": 2.0,
                "mobile": true,
                "touch": true,
            },
        });
    }
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("an object literal")
    };
    // chromedriver speaks plain HTTP on loopback: no TLS connector needed.
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    let url = format!("http://{addr}");
    let session = builder.connect(&url);
    match tokio::time::timeout(START, session).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => panic!("chromedriver could not start Chromium: {e}"),
        Err(_) => panic!("Chromium did not start within {START:?}"),
    }
}

/// A minimal blocking HTTP/1.1 request to chromedriver, for `Drop`.
fn blocking_request(addr: SocketAddr, method: &str, path: &str) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    // chromedriver keeps the connection open: read the head and the
    // `Content-Length` bytes of the body, not up to EOF.
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        response.extend_from_slice(buf.get(..n).unwrap_or_default());
        let text = String::from_utf8_lossy(&response);
        if let Some(head_end) = text.find("\r\n\r\n") {
            let length = text
                .get(..head_end)
                .unwrap_or_default()
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if response.len() >= head_end + 4 + length {
                return Ok(());
            }
        }
    }
}

/// Waits up to `within` for `css` on the current page; on timeout, fails
/// with the URL and the page's source.
pub async fn element(
    client: &Client,
    css: &str,
    within: Duration,
) -> fantoccini::elements::Element {
    match client
        .wait()
        .at_most(within)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(e) => e,
        Err(e) => {
            let url = client.current_url().await.map(|u| u.to_string());
            let source = client.source().await.unwrap_or_default();
            panic!("no `{css}` on {url:?} ({e}); the page:\n{source}");
        }
    }
}
