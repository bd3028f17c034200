//! The pure half of `cargo xtask bench`: statistics over measured windows,
//! the machine description, the table and `target/bench/latest.json`.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

/// The aim of the issue for `/protected` and `/t/{slug}/`: at least this
/// fraction of the floor's throughput.
pub const AIM_RATIO: f64 = 0.6;

/// One measured window of one scenario.
#[derive(Debug, Default, Clone)]
pub struct Window {
    /// Latency of every successful request (or flow), in microseconds.
    pub latencies_us: Vec<u64>,
    /// How long the window lasted.
    pub elapsed: Duration,
    /// Requests that failed (non-2xx, transport errors).
    pub errors: u64,
    /// The first failure, for the error message.
    pub first_error: Option<String>,
    /// Calls the identity provider counted during the window.
    pub idp_calls: u64,
    /// CPU time the window cost, by process.
    pub cpu: CpuSplit,
}

/// CPU time by process, in microseconds (from `/proc`, 10 ms resolution).
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct CpuSplit {
    /// The server under test (the floor server or the portal).
    pub server: f64,
    /// PostgreSQL's backends and helpers.
    pub postgres: f64,
    /// This process: the load generator.
    pub load_generator: f64,
}

impl CpuSplit {
    fn plus(self, o: Self) -> Self {
        Self {
            server: self.server + o.server,
            postgres: self.postgres + o.postgres,
            load_generator: self.load_generator + o.load_generator,
        }
    }

    fn per(self, n: u64) -> Self {
        let n = n.max(1) as f64;
        Self {
            server: round(self.server / n, 1),
            postgres: round(self.postgres / n, 1),
            load_generator: round(self.load_generator / n, 1),
        }
    }
}

impl Window {
    /// Successful requests per second.
    pub fn rps(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.latencies_us.len() as f64 / secs
        } else {
            0.0
        }
    }
}

/// The nearest-rank percentile `q` (0..=1) of `sorted_us` (ascending,
/// microseconds), in milliseconds; 0 for no samples.
pub fn percentile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let q = q.clamp(0.0, 1.0);
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us
        .get(rank - 1)
        .map_or(0.0, |us| *us as f64 / 1000.0)
}

/// The median (mean of the two middle values for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v.get(n / 2).copied().unwrap_or(0.0)
    } else {
        match (
            n.checked_sub(1).and_then(|_| v.get(n / 2 - 1)),
            v.get(n / 2),
        ) {
            (Some(lo), Some(hi)) => (lo + hi) / 2.0,
            _ => 0.0,
        }
    }
}

/// `rps` as a fraction of `floor_rps`; 0 when the floor measured nothing.
pub fn ratio(rps: f64, floor_rps: f64) -> f64 {
    if floor_rps > 0.0 && rps.is_finite() {
        rps / floor_rps
    } else {
        0.0
    }
}

/// The relative half-range of `values` around their median, in percent:
/// `max(|max - median|, |median - min|) / median * 100` (the "±" of a spread).
pub fn spread_percent(values: &[f64]) -> f64 {
    let m = median(values);
    if m <= 0.0 {
        return 0.0;
    }
    values
        .iter()
        .filter(|v| v.is_finite())
        .map(|v| (v - m).abs() / m * 100.0)
        .fold(0.0, f64::max)
}

/// Rounds to `digits` decimals (for a readable JSON file).
pub fn round(v: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (v * f).round() / f
}

/// Where the numbers came from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    /// CPUs this process may run on.
    pub cpus: usize,
    /// `model name` of /proc/cpuinfo.
    pub cpu_model: String,
    /// `MemTotal` of /proc/meminfo.
    pub memory_gib: f64,
    /// When the run started, `YYYY-MM-DD HH:MM UTC`.
    pub date: String,
    /// The 1-minute load average before the run.
    pub load_average_start: f64,
    /// The 1-minute load average after the last window.
    pub load_average_end: f64,
    /// Share of the machine's busy CPU time during the measured windows that
    /// went to processes other than the benchmark's own (PostgreSQL, the
    /// servers, the load generator), in percent: other work on the machine.
    pub foreign_cpu_percent: Option<f64>,
}

impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} CPUs ({}), {} GiB RAM, {}; load average {} → {}",
            self.cpus,
            self.cpu_model,
            self.memory_gib,
            self.date,
            self.load_average_start,
            self.load_average_end
        )?;
        if let Some(p) = self.foreign_cpu_percent {
            write!(f, "; other processes took {p:.0} % of the busy CPU time")?;
        }
        Ok(())
    }
}

/// `YYYY-MM-DD HH:MM UTC` of `secs` since the Unix epoch (proleptic
/// Gregorian calendar; Howard Hinnant's `civil_from_days`).
pub fn utc_date(secs: u64) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// One row of the table and of `latest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    /// Stable identifier: `floor`, `protected`, `tenant_warm`, `api_whoami`,
    /// `sign_in_flow`.
    pub name: &'static str,
    /// Requests (flows, for `sign_in_flow`) per second: the median of the
    /// rounds.
    pub rps: f64,
    /// Latency percentiles over every round's requests.
    pub p50_ms: f64,
    /// See `p50_ms`.
    pub p99_ms: f64,
    /// The median over the rounds of this round's rps divided by the floor's
    /// rps of the same round.
    pub ratio_to_floor: f64,
    /// Calls the identity provider received during the measured windows.
    pub idp_calls: u64,
    /// Successful requests in the measured windows.
    pub requests: u64,
    /// Failed requests in the measured windows.
    pub errors: u64,
    /// Each round's rps.
    pub round_rps: Vec<f64>,
    /// Each round's ratio to that round's floor.
    pub round_ratios: Vec<f64>,
    /// CPU microseconds per successful request (flow), by process.
    pub cpu_us_per_request: CpuSplit,
    /// The table's label.
    #[serde(skip)]
    pub what: &'static str,
}

impl Scenario {
    /// Summarises one scenario's windows (one per round) against the floor's
    /// rps of the same rounds.
    pub fn summarize(
        name: &'static str,
        what: &'static str,
        windows: &[Window],
        floor_rps: &[f64],
    ) -> Self {
        let round_rps: Vec<f64> = windows.iter().map(Window::rps).collect();
        let round_ratios: Vec<f64> = round_rps
            .iter()
            .zip(floor_rps)
            .map(|(w, f)| ratio(*w, *f))
            .collect();
        let mut all: Vec<u64> = windows
            .iter()
            .flat_map(|w| w.latencies_us.iter().copied())
            .collect();
        all.sort_unstable();
        Self {
            name,
            what,
            rps: round(median(&round_rps), 1),
            p50_ms: round(percentile_ms(&all, 0.50), 2),
            p99_ms: round(percentile_ms(&all, 0.99), 2),
            ratio_to_floor: round(median(&round_ratios), 3),
            idp_calls: windows.iter().map(|w| w.idp_calls).sum(),
            requests: all.len() as u64,
            errors: windows.iter().map(|w| w.errors).sum(),
            round_rps: round_rps.iter().map(|v| round(*v, 1)).collect(),
            round_ratios: round_ratios.iter().map(|v| round(*v, 3)).collect(),
            cpu_us_per_request: windows
                .iter()
                .fold(CpuSplit::default(), |acc, w| acc.plus(w.cpu))
                .per(all.len() as u64),
        }
    }
}

/// How the run was measured.
#[derive(Debug, Clone, Serialize)]
pub struct Method {
    /// Rounds; each measures every scenario once, in a rotating order.
    pub rounds: usize,
    /// Measured seconds per scenario and round.
    pub window_s: f64,
    /// Simultaneous users of scenarios 1 to 4.
    pub concurrency: usize,
    /// Simultaneous sign-in flows of scenario 5.
    pub flow_concurrency: usize,
    /// The portal's `RUST_LOG`.
    pub portal_log_level: &'static str,
    /// The scheduling niceness the benchmark's processes ran at.
    pub niceness: i32,
}

/// Whether the issue's aims were met.
#[derive(Debug, Clone, Serialize)]
pub struct Aims {
    /// `/protected` at ≥ [`AIM_RATIO`] of the floor.
    pub protected_ratio: bool,
    /// `/t/{slug}/` at ≥ [`AIM_RATIO`] of the floor.
    pub tenant_ratio: bool,
    /// No identity-provider call while `/t/{slug}/` was measured.
    pub tenant_no_idp_calls: bool,
}

/// `target/bench/latest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where and when.
    pub machine: Machine,
    /// Scenarios 1 to 5.
    pub scenarios: Vec<Scenario>,
    /// Scenario 6: the portal's peak resident set (`VmHWM`) over the run.
    pub peak_rss_mib: f64,
    /// How it was measured.
    pub method: Method,
    /// The aims of the issue.
    pub aims: Aims,
}

impl Report {
    /// Assembles the report; `scenarios` must hold the floor (by name).
    pub fn new(
        machine: Machine,
        scenarios: Vec<Scenario>,
        peak_rss_mib: f64,
        method: Method,
    ) -> Self {
        let find = |name: &str| scenarios.iter().find(|s| s.name == name);
        let aims = Aims {
            protected_ratio: find("protected").is_some_and(|s| s.ratio_to_floor >= AIM_RATIO),
            tenant_ratio: find("tenant_warm").is_some_and(|s| s.ratio_to_floor >= AIM_RATIO),
            tenant_no_idp_calls: find("tenant_warm").is_some_and(|s| s.idp_calls == 0),
        };
        Self {
            machine,
            scenarios,
            peak_rss_mib: round(peak_rss_mib, 1),
            method,
            aims,
        }
    }

    /// The JSON of `latest.json`.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self).map(|s| s + "\n")
    }

    /// The table printed at the end of a run (Markdown, so that it can go
    /// into the README as is).
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Machine: {}", self.machine);
        let _ = writeln!(
            out,
            "Method: {} rounds × {} s per scenario, {} users ({} flows at once), portal RUST_LOG={}, nice {}",
            self.method.rounds,
            self.method.window_s,
            self.method.concurrency,
            self.method.flow_concurrency,
            self.method.portal_log_level,
            self.method.niceness
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "| scenario | rps | p50 ms | p99 ms | × floor | ± rounds | IdP calls \
             | CPU µs/req: server · PostgreSQL · load |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for s in &self.scenarios {
            let c = s.cpu_us_per_request;
            let _ = writeln!(
                out,
                "| {} | {:.1} | {:.2} | {:.2} | {:.3} | {:.0} % | {} | {:.0} · {:.0} · {:.0} |",
                s.what,
                s.rps,
                s.p50_ms,
                s.p99_ms,
                s.ratio_to_floor,
                spread_percent(&s.round_ratios),
                s.idp_calls,
                c.server,
                c.postgres,
                c.load_generator
            );
        }
        let _ = writeln!(
            out,
            "| 6 portal peak RSS (VmHWM) | {:.1} MiB | | | | | | |",
            self.peak_rss_mib
        );
        let _ = writeln!(out);
        for s in &self.scenarios {
            if s.errors > 0 {
                let _ = writeln!(
                    out,
                    "warning: {}: {} of {} requests failed",
                    s.name,
                    s.errors,
                    s.errors + s.requests
                );
            }
        }
        let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
        let _ = writeln!(
            out,
            "Aims: /protected ≥ {AIM_RATIO} × floor: {}; /t/acme/ ≥ {AIM_RATIO} × floor: {}; \
             no IdP call in 3: {}",
            verdict(self.aims.protected_ratio),
            verdict(self.aims.tenant_ratio),
            verdict(self.aims.tenant_no_idp_calls),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn window(latencies_ms: &[u64], secs: u64, idp_calls: u64) -> Window {
        Window {
            latencies_us: latencies_ms.iter().map(|ms| ms * 1000).collect(),
            elapsed: Duration::from_secs(secs),
            errors: 0,
            first_error: None,
            idp_calls,
            // 100 µs of server, 50 of PostgreSQL and 10 of load per request.
            cpu: CpuSplit {
                server: 100.0 * latencies_ms.len() as f64,
                postgres: 50.0 * latencies_ms.len() as f64,
                load_generator: 10.0 * latencies_ms.len() as f64,
            },
        }
    }

    fn machine() -> Machine {
        Machine {
            cpus: 2,
            cpu_model: "Test CPU".into(),
            memory_gib: 8.0,
            date: utc_date(0),
            load_average_start: 0.5,
            load_average_end: 1.5,
            foreign_cpu_percent: Some(10.0),
        }
    }

    fn method() -> Method {
        Method {
            rounds: 2,
            window_s: 1.0,
            concurrency: 64,
            flow_concurrency: 8,
            portal_log_level: "info",
            niceness: -10,
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=100).map(|ms| ms * 1000).collect();
        assert_eq!(percentile_ms(&v, 0.50), 50.0);
        assert_eq!(percentile_ms(&v, 0.99), 99.0);
        assert_eq!(percentile_ms(&v, 1.0), 100.0);
        assert_eq!(percentile_ms(&v, 0.0), 1.0);
        assert_eq!(percentile_ms(&[7000], 0.99), 7.0);
        assert_eq!(percentile_ms(&[1000, 2000, 3000], 0.5), 2.0);
        assert_eq!(percentile_ms(&[1000, 2000], 0.5), 1.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
        // Out-of-range quantiles are clamped, never out of bounds.
        assert_eq!(percentile_ms(&[1000, 2000], 7.0), 2.0);
        assert_eq!(percentile_ms(&[1000, 2000], -1.0), 1.0);
    }

    #[test]
    fn medians_ratios_and_spreads() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[5.0]), 5.0);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[f64::NAN, 1.0]), 1.0);

        assert_eq!(ratio(600.0, 1000.0), 0.6);
        assert_eq!(ratio(1000.0, 1000.0), 1.0);
        assert_eq!(ratio(5.0, 0.0), 0.0);
        assert_eq!(ratio(f64::INFINITY, 10.0), 0.0);

        assert_eq!(spread_percent(&[90.0, 100.0, 110.0]), 10.0);
        assert_eq!(spread_percent(&[100.0, 100.0, 130.0]), 30.0);
        assert_eq!(spread_percent(&[]), 0.0);
    }

    #[test]
    fn rps_counts_successes_per_second() {
        assert_eq!(window(&[1, 2, 3, 4], 2, 0).rps(), 2.0);
        assert_eq!(Window::default().rps(), 0.0);
    }

    #[test]
    fn a_scenario_is_the_median_of_its_rounds_against_the_same_rounds_floor() {
        // Floor: 100 then 200 rps; the scenario: 60 then 100 rps.
        let floor = [100.0, 200.0];
        let windows = [window(&[2; 60], 1, 0), window(&[4; 100], 1, 3)];
        let s = Scenario::summarize("protected", "2 /protected", &windows, &floor);
        assert_eq!(s.round_rps, vec![60.0, 100.0]);
        assert_eq!(s.round_ratios, vec![0.6, 0.5]);
        assert_eq!(s.rps, 80.0);
        assert_eq!(s.ratio_to_floor, 0.55);
        assert_eq!(s.p50_ms, 4.0);
        assert_eq!(s.p99_ms, 4.0);
        assert_eq!(s.idp_calls, 3);
        assert_eq!(s.requests, 160);

        let floor_windows = [window(&[1; 100], 1, 0), window(&[1; 200], 1, 0)];
        let f = Scenario::summarize("floor", "1 floor", &floor_windows, &floor);
        assert_eq!(f.ratio_to_floor, 1.0);
        assert_eq!(f.rps, 150.0);
    }

    #[test]
    fn utc_dates() {
        assert_eq!(utc_date(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc_date(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(utc_date(1_709_210_096), "2024-02-29 12:34 UTC");
        assert_eq!(utc_date(4_102_444_799), "2099-12-31 23:59 UTC");
    }

    #[test]
    fn latest_json_has_the_issue_s_shape() {
        let floor = [window(&[1; 100], 1, 0)];
        let floor_rps = [100.0];
        let protected = [window(&[2; 70], 1, 0)];
        let tenant = [window(&[2; 50], 1, 0)];
        let report = Report::new(
            machine(),
            vec![
                Scenario::summarize("floor", "1 floor", &floor, &floor_rps),
                Scenario::summarize("protected", "2 /protected", &protected, &floor_rps),
                Scenario::summarize("tenant_warm", "3 /t/acme/", &tenant, &floor_rps),
            ],
            42.04,
            method(),
        );
        let json: serde_json::Value = serde_json::from_str(&report.to_json().unwrap()).unwrap();
        let top: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for key in ["machine", "scenarios", "peak_rss_mib"] {
            assert!(top.contains(&key), "{key} missing from {top:?}");
        }
        assert_eq!(json["peak_rss_mib"], 42.0);
        assert!(json["machine"].is_object());
        assert_eq!(json["machine"]["cpu_model"], "Test CPU");
        let scenarios = json["scenarios"].as_array().unwrap();
        assert_eq!(scenarios.len(), 3);
        for s in scenarios {
            for key in [
                "name",
                "rps",
                "p50_ms",
                "p99_ms",
                "ratio_to_floor",
                "idp_calls",
            ] {
                assert!(s.get(key).is_some(), "{key} missing from {s}");
            }
            assert!(s["name"].is_string());
            for key in ["rps", "p50_ms", "p99_ms", "ratio_to_floor"] {
                assert!(s[key].is_f64(), "{key} is not a number in {s}");
            }
            assert!(s["idp_calls"].is_u64());
            assert!(s.get("what").is_none(), "the label stays out of the JSON");
        }
        assert_eq!(scenarios[0]["name"], "floor");
        assert_eq!(scenarios[0]["ratio_to_floor"], 1.0);
        assert_eq!(scenarios[1]["name"], "protected");
        assert_eq!(scenarios[1]["rps"], 70.0);
        assert_eq!(scenarios[1]["ratio_to_floor"], 0.7);
        let cpu = &scenarios[1]["cpu_us_per_request"];
        assert_eq!(
            (&cpu["server"], &cpu["postgres"], &cpu["load_generator"]),
            (&100.0.into(), &50.0.into(), &10.0.into())
        );
        assert_eq!(json["aims"]["protected_ratio"], true);
        assert_eq!(json["aims"]["tenant_ratio"], false);
        assert_eq!(json["aims"]["tenant_no_idp_calls"], true);
    }

    #[test]
    fn the_table_lists_every_scenario_and_the_verdicts() {
        let floor = [window(&[1; 100], 1, 0)];
        let tenant = [window(&[2; 80], 1, 2)];
        let report = Report::new(
            machine(),
            vec![
                Scenario::summarize("floor", "1 floor", &floor, &[100.0]),
                Scenario::summarize("tenant_warm", "3 /t/acme/", &tenant, &[100.0]),
            ],
            10.0,
            method(),
        );
        let table = report.table();
        assert!(table.contains("| 1 floor | 100.0 |"), "{table}");
        assert!(table.contains("| 3 /t/acme/ | 80.0 |"), "{table}");
        assert!(
            table.contains("| 6 portal peak RSS (VmHWM) | 10.0 MiB |"),
            "{table}"
        );
        assert!(table.contains("Test CPU"), "{table}");
        assert!(table.contains("no IdP call in 3: MISSED"), "{table}");
        assert!(
            table.contains("/protected ≥ 0.6 × floor: MISSED"),
            "{table}"
        );
    }
}
