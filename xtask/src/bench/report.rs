//! Collecting per-round values and printing min / median / max tables with
//! ratios to HAProxy taken round by round.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One measured quantity.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub key: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    /// Whether a larger value is better (shown in the table header).
    pub higher_is_better: bool,
    /// Decimals to print.
    pub decimals: usize,
}

/// Values by round, target and metric key. A missing value means the phase
/// failed or does not apply (the direct path has no proxy CPU or memory).
#[derive(Debug, Default)]
pub struct Results {
    rounds: Vec<BTreeMap<(String, &'static str), f64>>,
    /// Failures, in order, as "round N, target: metric: reason".
    pub failures: Vec<String>,
}

impl Results {
    pub fn new(rounds: usize) -> Self {
        Self {
            rounds: vec![BTreeMap::new(); rounds],
            failures: Vec::new(),
        }
    }

    pub fn set(&mut self, round: usize, target: &str, metric: &'static str, value: f64) {
        self.rounds[round].insert((target.to_owned(), metric), value);
    }

    fn get(&self, round: usize, target: &str, metric: &str) -> Option<f64> {
        self.rounds[round]
            .iter()
            .find(|((t, m), _)| t == target && *m == metric)
            .map(|(_, v)| *v)
    }

    fn values(&self, target: &str, metric: &str) -> Vec<f64> {
        (0..self.rounds.len())
            .filter_map(|r| self.get(r, target, metric))
            .collect()
    }

    /// Ratios target / HAProxy, one per round in which both were measured.
    fn ratios(&self, target: &str, metric: &str) -> Vec<f64> {
        (0..self.rounds.len())
            .filter_map(|r| {
                let a = self.get(r, target, metric)?;
                let b = self.get(r, "haproxy", metric)?;
                (b != 0.0).then(|| a / b)
            })
            .collect()
    }

    /// The markdown table of every metric for every target.
    pub fn table(&self, metrics: &[Metric], targets: &[String]) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| measure | target | min | median | max | ratio to HAProxy (median of per-round ratios) |"
        );
        let _ = writeln!(out, "|---|---|---:|---:|---:|---:|");
        for m in metrics {
            for t in targets {
                let v = self.values(t, m.key);
                if v.is_empty() {
                    let _ = writeln!(
                        out,
                        "| {} ({}{}) | {t} | – | – | – | – |",
                        m.title,
                        m.unit,
                        arrow(m)
                    );
                    continue;
                }
                let (lo, med, hi) = min_med_max(&v);
                let ratio = match (t.as_str(), self.ratios(t, m.key)) {
                    ("haproxy", _) => "1.00".to_owned(),
                    (_, r) if r.is_empty() => "–".to_owned(),
                    (_, r) => format!("{:.2}", min_med_max(&r).1),
                };
                let d = m.decimals;
                let _ = writeln!(
                    out,
                    "| {} ({}{}) | {t} | {lo:.d$} | {med:.d$} | {hi:.d$} | {ratio} |",
                    m.title,
                    m.unit,
                    arrow(m)
                );
            }
        }
        out
    }
}

fn arrow(m: &Metric) -> &'static str {
    if m.higher_is_better {
        ", higher is better"
    } else {
        ", lower is better"
    }
}

/// Minimum, median (mean of the middle two for an even count) and maximum.
pub fn min_med_max(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    let med = if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    };
    (s[0], med, s[n - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(min_med_max(&[3.0, 1.0, 2.0]), (1.0, 2.0, 3.0));
        assert_eq!(min_med_max(&[4.0, 1.0, 2.0, 3.0]), (1.0, 2.5, 4.0));
    }

    #[test]
    fn ratios_are_taken_per_round() {
        let mut r = Results::new(3);
        for (round, (w, h)) in [(2.0, 1.0), (3.0, 3.0), (8.0, 2.0)].into_iter().enumerate() {
            r.set(round, "weir", "x", w);
            r.set(round, "haproxy", "x", h);
        }
        let m = Metric {
            key: "x",
            title: "X",
            unit: "u",
            higher_is_better: true,
            decimals: 1,
        };
        let t = r.table(&[m], &["weir".into(), "haproxy".into()]);
        // per-round ratios 2, 1, 4 → median 2
        assert!(
            t.contains("| X (u, higher is better) | weir | 2.0 | 3.0 | 8.0 | 2.00 |"),
            "{t}"
        );
    }
}
