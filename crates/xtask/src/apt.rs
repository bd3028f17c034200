//! Debian packages the commands need and install themselves when they can.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

const APT_GET: &str = "/usr/bin/apt-get";

/// A Debian package and a file that shows it is installed.
pub(crate) struct Package {
    pub name: &'static str,
    pub provides: &'static str,
}

/// The process's effective user id is the owner of `/proc/self`.
pub(crate) fn is_root() -> bool {
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// Whether apt can install packages here (root on Debian).
pub(crate) fn can_install() -> bool {
    is_root() && Path::new(APT_GET).exists()
}

/// The packages of `wanted` that are not installed.
pub(crate) fn missing(wanted: &[Package]) -> Vec<&Package> {
    wanted
        .iter()
        .filter(|p| !Path::new(p.provides).exists())
        .collect()
}

/// Installs what `wanted` lacks with apt-get; an error names the packages and
/// how to install them by hand when this process cannot.
pub(crate) fn ensure(wanted: &[Package]) -> Result<()> {
    let missing = missing(wanted);
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|p| p.name).collect();
    if !can_install() {
        bail!(
            "missing Debian packages: {}; install them with `sudo apt-get install {}`",
            names.join(", "),
            names.join(" ")
        );
    }
    crate::step("apt-get update", Command::new(APT_GET).arg("update"))?;
    crate::step(
        &format!("apt-get install {}", names.join(" ")),
        Command::new(APT_GET)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "--no-install-recommends"])
            .args(&names),
    )?;
    let still: Vec<&str> = self::missing(wanted).iter().map(|p| p.provides).collect();
    if !still.is_empty() {
        bail!("apt-get ran, but {} is still missing", still.join(", "));
    }
    Ok(())
}
