//! Optional tiers of `cargo xtask test`: parts of the check that need
//! something this machine may lack (Chromium, real Logto, the advisory
//! database). A tier that cannot run is never counted as passed: its tests are
//! `#[ignore = "needs …: run through cargo xtask test"]`, so a plain
//! `cargo test` reports them as ignored; xtask runs nextest with
//! `--run-ignored all` and excludes the unavailable tiers with a filterset, so
//! nextest counts their tests as skipped; and the last line of the command
//! names every skipped tier and why.

/// One optional tier and whether it runs here.
#[derive(Clone, Debug)]
pub(crate) struct Tier {
    /// Short name printed in the summary (`browser`, `real_logto`, `audit`).
    pub name: &'static str,
    /// The nextest filterset selecting the tier's tests (`binary(browser)`);
    /// `None` for a tier that is not a set of tests (the audit).
    pub tests: Option<&'static str>,
    /// Why the tier cannot run here, in words (with how to make it run);
    /// `None` when it runs.
    pub skipped: Option<String>,
    /// Environment handed to the test runner when the tier runs (for example
    /// the address of a real Logto).
    pub env: Vec<(String, String)>,
}

impl Tier {
    /// A tier of tests that runs.
    pub(crate) fn tests(name: &'static str, filterset: &'static str) -> Self {
        Tier {
            name,
            tests: Some(filterset),
            skipped: None,
            env: Vec::new(),
        }
    }

    /// A tier that is not a set of tests (it runs a tool of its own).
    pub(crate) fn check(name: &'static str) -> Self {
        Tier {
            name,
            tests: None,
            skipped: None,
            env: Vec::new(),
        }
    }

    /// The same tier, not run here, for `reason`.
    pub(crate) fn skip(mut self, reason: impl Into<String>) -> Self {
        self.skipped = Some(reason.into());
        self.env.clear();
        self
    }

    /// The same tier with `key=value` in the test runner's environment.
    #[cfg_attr(not(test), allow(dead_code))] // the real-Logto tier uses it
    pub(crate) fn with_env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub(crate) fn runs(&self) -> bool {
        self.skipped.is_none()
    }
}

/// The nextest arguments that select the tests of `tiers`, followed by the
/// user's `runner_args`: every ignored test runs, except those of tiers that
/// cannot run here.
///
/// nextest unites several filtersets, so a user's `-E` would bring the
/// excluded tests back: the user's filtersets are folded into ours instead
/// (`(user) and not (excluded)`). The exclusion keeps a `test()` predicate on
/// purpose: a filterset that rules out a whole binary makes nextest skip the
/// binary without listing it, and its tests would then vanish from the count
/// instead of showing as skipped.
pub(crate) fn nextest_args(tiers: &[Tier], runner_args: &[String]) -> Vec<String> {
    let mut args = vec!["--run-ignored".to_owned(), "all".to_owned()];
    let excluded: Vec<&str> = tiers
        .iter()
        .filter(|t| !t.runs())
        .filter_map(|t| t.tests)
        .collect();
    if excluded.is_empty() {
        args.extend(runner_args.iter().cloned());
        return args;
    }
    let (user, rest) = split_filtersets(runner_args);
    let exclusion = format!("not (({}) and test(/.*/))", excluded.join(" or "));
    let filterset = if user.is_empty() {
        exclusion
    } else {
        let user: Vec<String> = user.iter().map(|f| format!("({f})")).collect();
        format!("({}) and {exclusion}", user.join(" or "))
    };
    args.extend(["-E".to_owned(), filterset]);
    args.extend(rest);
    args
}

/// The values of `-E`/`--filterset` (also `--filter-expr`, `=`-joined or
/// not) among `args`, and the other arguments in order.
fn split_filtersets(args: &[String]) -> (Vec<String>, Vec<String>) {
    const FLAGS: [&str; 3] = ["-E", "--filterset", "--filter-expr"];
    let (mut filtersets, mut rest) = (Vec::new(), Vec::new());
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            // Test-binary arguments follow: nothing there is ours.
            rest.push(arg.clone());
            rest.extend(args.by_ref().cloned());
        } else if FLAGS.contains(&arg.as_str()) {
            filtersets.extend(args.next().cloned());
        } else if let Some(value) = FLAGS
            .iter()
            .find_map(|f| arg.strip_prefix(f)?.strip_prefix('='))
        {
            filtersets.push(value.to_owned());
        } else {
            rest.push(arg.clone());
        }
    }
    (filtersets, rest)
}

/// The environment the runnable tiers hand to the test runner.
pub(crate) fn runner_env(tiers: &[Tier]) -> impl Iterator<Item = (&str, &str)> {
    tiers
        .iter()
        .filter(|t| t.runs())
        .flat_map(|t| t.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The last line of `cargo xtask test`, in words.
pub(crate) fn summary(tiers: &[Tier]) -> String {
    let skipped: Vec<String> = tiers
        .iter()
        .filter_map(|t| {
            t.skipped
                .as_ref()
                .map(|why| format!("SKIPPED tier {}: {why}", t.name))
        })
        .collect();
    if skipped.is_empty() {
        let names: Vec<&str> = tiers.iter().map(|t| t.name).collect();
        format!("xtask: all tiers ran ({})", names.join(", "))
    } else {
        format!("xtask: {}", skipped.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> Vec<Tier> {
        vec![
            Tier::check("audit"),
            Tier::tests("browser", "binary(browser)"),
            Tier::tests("real_logto", "binary(real_logto)").with_env("LOGTO_TIER_ENDPOINT", "x"),
        ]
    }

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn every_tier_runs_so_every_ignored_test_runs() {
        let tiers = tiers();
        assert_eq!(nextest_args(&tiers, &[]), ["--run-ignored", "all"]);
        assert_eq!(
            nextest_args(&tiers, &strings(&["-E", "test(x)", "--no-capture"])),
            ["--run-ignored", "all", "-E", "test(x)", "--no-capture"]
        );
        assert_eq!(
            summary(&tiers),
            "xtask: all tiers ran (audit, browser, real_logto)"
        );
        assert_eq!(
            runner_env(&tiers).collect::<Vec<_>>(),
            [("LOGTO_TIER_ENDPOINT", "x")]
        );
    }

    #[test]
    fn an_unavailable_tier_is_excluded_and_named_with_its_reason() {
        let mut tiers = tiers();
        tiers[1] = tiers[1]
            .clone()
            .skip("Chromium missing (install: apt-get install chromium)");
        assert_eq!(
            nextest_args(&tiers, &[]),
            [
                "--run-ignored",
                "all",
                "-E",
                "not ((binary(browser)) and test(/.*/))"
            ]
        );
        assert_eq!(
            summary(&tiers),
            "xtask: SKIPPED tier browser: Chromium missing (install: apt-get install chromium)"
        );
    }

    #[test]
    fn several_unavailable_tiers_are_excluded_together_and_lose_their_env() {
        let tiers: Vec<Tier> = tiers()
            .into_iter()
            .map(|t| {
                let why = format!("no {}", t.name);
                t.skip(why)
            })
            .collect();
        // One -E: nextest unites several filtersets, which would let each
        // exclusion bring back the other's tests.
        assert_eq!(
            nextest_args(&tiers, &[]),
            [
                "--run-ignored",
                "all",
                "-E",
                "not ((binary(browser) or binary(real_logto)) and test(/.*/))"
            ]
        );
        assert_eq!(runner_env(&tiers).count(), 0);
        assert_eq!(
            summary(&tiers),
            "xtask: SKIPPED tier audit: no audit; SKIPPED tier browser: no browser; \
             SKIPPED tier real_logto: no real_logto"
        );
    }

    #[test]
    fn the_users_filtersets_narrow_the_run_instead_of_undoing_the_exclusion() {
        let tiers = vec![Tier::tests("browser", "binary(browser)").skip("no Chromium")];
        let user = strings(&[
            "-E",
            "package(portal)",
            "--filterset=test(a)",
            "--no-capture",
            "--",
            "-E",
            "kept",
        ]);
        assert_eq!(
            nextest_args(&tiers, &user),
            [
                "--run-ignored",
                "all",
                "-E",
                "((package(portal)) or (test(a))) and not ((binary(browser)) and test(/.*/))",
                "--no-capture",
                "--",
                "-E",
                "kept"
            ]
        );
    }
}
