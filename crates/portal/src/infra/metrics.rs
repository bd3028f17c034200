//! Prometheus metrics in the text exposition format, without a registry crate.
//!
//! Ours rather than `prometheus-client`: its encoder writes a bucket's `le`
//! before the other labels, and the names and label order of these lines are
//! what the tests and dashboards read.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Latency buckets, seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Request histograms by route pattern, then by method and status.
type RequestHistograms = BTreeMap<String, BTreeMap<(&'static str, u16), Histogram>>;

/// The method as a label: the standard ones by name, any other as `OTHER`
/// (a client must not be able to mint labels).
fn method_label(method: &str) -> &'static str {
    const KNOWN: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE",
    ];
    KNOWN.into_iter().find(|m| *m == method).unwrap_or("OTHER")
}

/// The portal's counters.
#[derive(Default)]
pub struct Metrics {
    /// Looked up by borrowed route: recording a request allocates nothing
    /// once its route, method and status have been seen.
    requests: Mutex<RequestHistograms>,
    token_calls: Mutex<BTreeMap<(String, String), u64>>,
    /// Back-channel logouts processed.
    pub backchannel_logouts: AtomicU64,
}

impl Metrics {
    /// Records a finished request (route pattern, not the raw path).
    pub fn observe_request(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let Ok(mut map) = self.requests.lock() else {
            return;
        };
        let by_route = match map.get_mut(route) {
            Some(m) => m,
            None => map.entry(route.to_owned()).or_default(),
        };
        let h = by_route.entry((method_label(method), status)).or_default();
        h.count += 1;
        h.sum += seconds;
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b
                && let Some(c) = h.counts.get_mut(i)
            {
                *c += 1;
            }
        }
    }

    /// Records a call the portal caused at the token endpoint.
    pub fn token_call(&self, grant: &str, outcome: &str) {
        if let Ok(mut map) = self.token_calls.lock() {
            *map.entry((grant.to_owned(), outcome.to_owned()))
                .or_default() += 1;
        }
    }

    /// The exposition text; the gauges and the Logto client's counters are read by the caller.
    pub fn render(
        &self,
        sessions_alive: i64,
        client: logto_client::ClientStats,
        notifications_heard: u64,
    ) -> String {
        let mut out = String::new();
        out.push_str("# HELP portal_http_requests_total HTTP requests by route and status.\n");
        out.push_str("# TYPE portal_http_requests_total counter\n");
        let requests = self.requests.lock().map(|m| {
            m.iter()
                .flat_map(|(route, by)| {
                    by.iter().map(move |((method, status), h)| {
                        ((*method, route.clone(), *status), h.count, h.sum, h.counts)
                    })
                })
                .collect::<Vec<_>>()
        });
        let requests = requests.unwrap_or_default();
        for ((method, route, status), count, _, _) in &requests {
            let _ = writeln!(
                out,
                "portal_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str("# HELP portal_http_request_duration_seconds Request latency by route.\n");
        out.push_str("# TYPE portal_http_request_duration_seconds histogram\n");
        for ((method, route, status), count, sum, counts) in &requests {
            let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
            for (b, c) in BUCKETS.iter().zip(counts.iter()) {
                let _ = writeln!(
                    out,
                    "portal_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {c}"
                );
            }
            let _ = writeln!(
                out,
                "portal_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "portal_http_request_duration_seconds_sum{{{labels}}} {sum}"
            );
            let _ = writeln!(
                out,
                "portal_http_request_duration_seconds_count{{{labels}}} {count}"
            );
        }
        out.push_str(
            "# HELP portal_token_endpoint_calls_total Token-endpoint calls by grant and outcome.\n",
        );
        out.push_str("# TYPE portal_token_endpoint_calls_total counter\n");
        if let Ok(map) = self.token_calls.lock() {
            for ((grant, outcome), n) in map.iter() {
                let _ = writeln!(
                    out,
                    "portal_token_endpoint_calls_total{{grant=\"{grant}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        // Refresh grants are made inside the Logto client (on behalf of any route).
        for (outcome, n) in [
            ("ok", client.refreshes_ok),
            ("error", client.refreshes_failed),
        ] {
            let _ = writeln!(
                out,
                "portal_token_endpoint_calls_total{{grant=\"refresh_token\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str(
            "# HELP portal_backchannel_logouts_total Back-channel logout tokens accepted.\n",
        );
        out.push_str("# TYPE portal_backchannel_logouts_total counter\n");
        let _ = writeln!(
            out,
            "portal_backchannel_logouts_total {}",
            self.backchannel_logouts.load(Ordering::Relaxed)
        );
        out.push_str("# HELP portal_jwks_fetches_total JWKS fetches by this instance.\n");
        out.push_str("# TYPE portal_jwks_fetches_total counter\n");
        let _ = writeln!(out, "portal_jwks_fetches_total {}", client.jwks_fetches);
        out.push_str(
            "# HELP portal_refreshes_coalesced_total Token requests served by a refresh another request had just made.\n",
        );
        out.push_str("# TYPE portal_refreshes_coalesced_total counter\n");
        let _ = writeln!(
            out,
            "portal_refreshes_coalesced_total {}",
            client.refreshes_coalesced
        );
        out.push_str("# HELP portal_sessions_alive Signed-in browsers (all instances).\n");
        out.push_str("# TYPE portal_sessions_alive gauge\n");
        let _ = writeln!(out, "portal_sessions_alive {sessions_alive}");
        out.push_str(
            "# HELP portal_change_notifications_total Change notifications heard from PostgreSQL.\n",
        );
        out.push_str("# TYPE portal_change_notifications_total counter\n");
        let _ = writeln!(
            out,
            "portal_change_notifications_total {notifications_heard}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Metrics;

    #[test]
    fn requests_are_counted_by_method_route_and_status_and_odd_methods_share_one_label() {
        let m = Metrics::default();
        m.observe_request("GET", "/protected", 200, 0.003);
        m.observe_request("GET", "/protected", 200, 0.3);
        m.observe_request("POST", "/protected", 200, 0.003);
        m.observe_request("BREW", "/protected", 405, 0.003);
        m.observe_request("PURGE", "/protected", 405, 0.003);
        let text = m.render(0, logto_client::ClientStats::default(), 0);
        for line in [
            "portal_http_requests_total{method=\"GET\",route=\"/protected\",status=\"200\"} 2",
            "portal_http_requests_total{method=\"POST\",route=\"/protected\",status=\"200\"} 1",
            "portal_http_requests_total{method=\"OTHER\",route=\"/protected\",status=\"405\"} 2",
            "portal_http_request_duration_seconds_bucket{method=\"GET\",route=\"/protected\",status=\"200\",le=\"0.005\"} 1",
            "portal_http_request_duration_seconds_bucket{method=\"GET\",route=\"/protected\",status=\"200\",le=\"0.5\"} 2",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing in\n{text}");
        }
        assert!(!text.contains("BREW"), "{text}");
    }
}
