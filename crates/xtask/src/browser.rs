//! Chromium for the browser end-to-end tests (`crates/portal/tests/browser.rs`).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const APT_GET: &str = "/usr/bin/apt-get";
/// Read by the browser tests: `1` makes them pass with a printed notice.
const SKIP_VAR: &str = "PORTAL_SKIP_BROWSER_TESTS";
const INSTALL_HINT: &str = "sudo apt-get install chromium chromium-driver";

/// Whether the browser tests run; applied to the test runner's environment.
#[must_use]
pub(crate) struct BrowserTests {
    skip: bool,
}

impl BrowserTests {
    pub(crate) fn apply(&self, cmd: &mut Command) {
        if self.skip {
            cmd.env(SKIP_VAR, "1");
        }
    }
}

fn installed() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// The process's effective user id is the owner of `/proc/self`.
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Makes sure Chromium and chromedriver are there: installs them with apt
/// when running as root on Debian; otherwise says how to install them and
/// has the browser tests skip.
pub(crate) fn ensure_chromium() -> Result<BrowserTests> {
    if std::env::var(SKIP_VAR).as_deref() == Ok("1") {
        eprintln!("xtask: {SKIP_VAR}=1: the browser tests are skipped");
        return Ok(BrowserTests { skip: true });
    }
    if installed() {
        return Ok(BrowserTests { skip: false });
    }
    if !(is_root() && Path::new(APT_GET).exists()) {
        eprintln!(
            "xtask: Chromium is missing ({CHROMIUM}, {CHROMEDRIVER}): the browser tests are \
             skipped; install it with `{INSTALL_HINT}`"
        );
        return Ok(BrowserTests { skip: true });
    }
    crate::step("apt-get update", Command::new(APT_GET).arg("update"))?;
    crate::step(
        "apt-get install chromium chromium-driver",
        Command::new(APT_GET)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "chromium", "chromium-driver"]),
    )?;
    if !installed() {
        bail!(
            "apt-get installed chromium and chromium-driver, but {CHROMIUM} or {CHROMEDRIVER} \
             is still missing; set {SKIP_VAR}=1 to run the other tests without them"
        );
    }
    Ok(BrowserTests { skip: false })
}
