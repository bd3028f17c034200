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

/// The test binaries of the optional tiers of `cargo xtask test` (by path
/// under the workspace) and the reason all their tests are ignored with.
const TIER_FILES: &[(&str, &str)] = &[
    (
        "crates/portal/tests/browser",
        "needs Chromium: run through cargo xtask test",
    ),
    (
        "crates/portal/tests/real_logto",
        "needs real Logto: run through cargo xtask test",
    ),
    (
        "crates/logto-client/tests/real_logto",
        "needs real Logto: run through cargo xtask test",
    ),
    (
        "crates/logto-dev/tests/conformance",
        "needs real Logto: run through cargo xtask test",
    ),
];

fn rust_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `cargo xtask test` runs nextest with `--run-ignored all`: an ignored test
/// exists only in a tier's binary, and there every test is ignored with the
/// tier's reason, so that a plain `cargo test` reports it as ignored instead
/// of failing for want of Chromium or Logto, and never passes it unrun.
#[test]
fn ignored_tests_are_exactly_the_tiers_tests() {
    // Spelt in pieces so that this file does not match itself.
    let ignore = concat!("#[", "ignore");
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    let mut tier_tests = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let code: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("//"))
            .collect();
        let relative = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let tier = TIER_FILES
            .iter()
            .find(|(prefix, _)| relative.starts_with(prefix));
        let ignores = code.iter().filter(|l| l.contains(ignore)).count();
        let Some((_, reason)) = tier else {
            assert_eq!(
                ignores, 0,
                "{relative}: an ignored test outside the tiers' binaries"
            );
            continue;
        };
        let tests = code
            .iter()
            .filter(|l| {
                [
                    "#[test]",
                    "#[tokio::test",
                    "#[sqlx::test",
                    "#[actix_web::test",
                ]
                .iter()
                .any(|a| l.starts_with(a))
            })
            .count();
        let marked = code
            .iter()
            .filter(|l| **l == format!("{ignore} = \"{reason}\"]"))
            .count();
        assert_eq!(
            (marked, ignores),
            (tests, tests),
            "{relative}: each of its {tests} tests carries `{ignore} = \"{reason}\"]`"
        );
        tier_tests += tests;
    }
    assert!(tier_tests >= 2, "the browser tests are found: {tier_tests}");
}
