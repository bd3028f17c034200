//! Chromium for the browser end-to-end tests (`crates/portal/tests/browser.rs`,
//! the test binary `browser`, whose tests are all `#[ignore]`d so that only
//! this command runs them).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::tiers::Tier;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const APT_GET: &str = "/usr/bin/apt-get";
const INSTALL_HINT: &str = "sudo apt-get install chromium chromium-driver";

fn installed() -> bool {
    Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists()
}

/// The process's effective user id is the owner of `/proc/self`.
fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The browser tier: makes sure Chromium and chromedriver are there, and
/// installs them with apt when running as root on Debian. Elsewhere, the tier
/// is skipped with the command that installs them.
pub(crate) fn tier() -> Result<Tier> {
    // The browser tests, and the real-Logto tier's test on Logto's own page.
    let tier = Tier::tests(
        "browser",
        "binary(browser) | (binary(real_logto) & test(/^chromium::/))",
    );
    if installed() {
        return Ok(tier);
    }
    if !(is_root() && Path::new(APT_GET).exists()) {
        let why =
            format!("Chromium missing ({CHROMIUM}, {CHROMEDRIVER}; install: `{INSTALL_HINT}`)");
        eprintln!("xtask: the browser tests are skipped: {why}");
        return Ok(tier.skip(why));
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
             is still missing"
        );
    }
    Ok(tier)
}
