//! Cargo tools the test command needs (`cargo-audit`, and `cargo-nextest`
//! where the machine lacks it), installed from crates.io at a pinned version
//! into a cache outside the clone, once, and reused from there.
//!
//! The cache is `$XTASK_TOOLS`, else `$XDG_CACHE_HOME/portal-xtask/tools`, else
//! `~/.cache/portal-xtask/tools`; each tool and version has its own root
//! (`cargo-audit-0.22.2/bin/cargo-audit`), so a binary there is always the
//! pinned version and a version bump installs beside it.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::{cargo, step};

/// A cargo subcommand installed with `cargo install --locked`.
pub(crate) struct Tool {
    /// The crate on crates.io, also the binary's name (`cargo-audit`).
    pub krate: &'static str,
    /// The exact version installed.
    pub version: &'static str,
}

/// cargo-audit, which reads the RustSec advisory database from a plain folder.
pub(crate) const CARGO_AUDIT: Tool = Tool {
    krate: "cargo-audit",
    version: "0.22.2",
};

/// cargo-nextest, for a machine that does not come with it.
pub(crate) const CARGO_NEXTEST: Tool = Tool {
    krate: "cargo-nextest",
    version: "0.9.143",
};

/// The cache directory for installed tools.
fn cache() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XTASK_TOOLS") {
        return Ok(PathBuf::from(dir));
    }
    let base = match (std::env::var_os("XDG_CACHE_HOME"), std::env::var_os("HOME")) {
        (Some(xdg), _) if !xdg.is_empty() => PathBuf::from(xdg),
        (_, Some(home)) if !home.is_empty() => Path::new(&home).join(".cache"),
        _ => bail!("neither XTASK_TOOLS, XDG_CACHE_HOME nor HOME is set: nowhere to cache tools"),
    };
    Ok(base.join("portal-xtask").join("tools"))
}

impl Tool {
    fn root(&self, cache: &Path) -> PathBuf {
        cache.join(format!("{}-{}", self.krate, self.version))
    }

    /// The installed binary, installing it first when it is not cached yet
    /// (a few minutes of compiling, once per machine).
    pub(crate) fn ensure(&self) -> Result<PathBuf> {
        let root = self.root(&cache()?);
        let bin = root.join("bin").join(self.krate);
        if bin.is_file() {
            return Ok(bin);
        }
        eprintln!(
            "xtask: {} {} is not cached in {}: installing it from crates.io (once; a few minutes)",
            self.krate,
            self.version,
            root.display()
        );
        step(
            &format!("cargo install {} {}", self.krate, self.version),
            cargo()
                // The build happens in a temporary directory of its own, not
                // in the workspace's target directory.
                .env_remove("CARGO_TARGET_DIR")
                .args(["install", "--locked", "--version"])
                .arg(format!("={}", self.version))
                .arg("--root")
                .arg(&root)
                .arg(self.krate),
        )?;
        if !bin.is_file() {
            bail!(
                "cargo install {} succeeded but {} is missing",
                self.krate,
                bin.display()
            );
        }
        Ok(bin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_version_has_its_own_root_in_the_cache() {
        let cache = Path::new("/c");
        assert_eq!(
            CARGO_AUDIT.root(cache),
            Path::new("/c/cargo-audit-0.22.2"),
            "a bump of the pinned version installs beside the old one"
        );
    }
}
