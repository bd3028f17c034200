//! logto-actix's PostgreSQL storage is opt-in: without its `postgres`
//! feature the crate depends on no sqlx (nor on the portal), and with it,
//! it does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::Command;

/// `cargo tree -p logto-actix -e normal` with `features`, from the lock file.
fn tree(features: &[&str]) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).args([
        "tree",
        "-p",
        "logto-actix",
        "-e",
        "normal",
        "--prefix",
        "none",
        "--offline",
        "--locked",
    ]);
    if !features.is_empty() {
        cmd.args(["--features", &features.join(",")]);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn has_crate(tree: &str, name: &str) -> bool {
    tree.lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

#[test]
fn logto_actix_pulls_in_postgres_only_with_its_feature() {
    let plain = tree(&[]);
    assert!(has_crate(&plain, "logto-client"), "{plain}");
    assert!(!has_crate(&plain, "sqlx"), "{plain}");
    assert!(!has_crate(&plain, "portal"), "{plain}");
    let postgres = tree(&["postgres"]);
    assert!(has_crate(&postgres, "sqlx"), "{postgres}");
    assert!(!has_crate(&postgres, "portal"), "{postgres}");
}
