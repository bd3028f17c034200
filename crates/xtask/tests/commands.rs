//! The two README commands and CI agree: `.ci/run` runs exactly the test
//! command the README gives, and both commands are real subcommands.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

fn workspace_file(name: &str) -> String {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    std::fs::read_to_string(root.join(name)).unwrap()
}

/// The first `cargo xtask …` line of the README's shell block that follows
/// the sentence starting with `lead`.
fn readme_command(readme: &str, lead: &str) -> Option<String> {
    let start = readme.find(lead)?;
    let rest = &readme[start..];
    let block = rest.split("```sh").nth(1)?.split("```").next()?;
    block
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("cargo xtask "))
        .map(str::to_owned)
}

/// The command `.ci/run` executes (its `exec` line).
fn ci_command(script: &str) -> Option<String> {
    script
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("exec "))
        .map(str::to_owned)
}

#[test]
fn ci_runs_exactly_the_readme_test_command() {
    let readme = workspace_file("README.md");
    let test = readme_command(&readme, "Run every check").expect("README test command");
    let demo = readme_command(&readme, "Run the demo").expect("README demo command");
    assert_eq!(demo, "cargo xtask demo");
    assert!(test.starts_with("cargo xtask test"), "{test}");
    let ci = ci_command(&workspace_file(".ci/run")).expect(".ci/run exec line");
    assert_eq!(ci, test, ".ci/run must run the README's test command");
}

#[test]
fn the_checks_can_fail() {
    let readme = "Run every check:\n\n```sh\ncargo xtask test --long\n```\n";
    assert_eq!(
        readme_command(readme, "Run every check").as_deref(),
        Some("cargo xtask test --long")
    );
    assert_ne!(
        ci_command("#!/bin/sh\nexec cargo xtask test\n").as_deref(),
        readme_command(readme, "Run every check").as_deref()
    );
    assert_eq!(readme_command("no command here", "Run every check"), None);
    assert_eq!(ci_command("cargo xtask test"), None);
}
