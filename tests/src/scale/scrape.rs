//! Reading the operator's `/metrics` text: samples with their labels, summed over the series a
//! figure needs.

use std::collections::BTreeMap;

/// One sample line: `name{label="value",...} number`.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: Vec<(String, String)>,
    value: f64,
}

/// The samples of one scrape.
#[derive(Debug, Clone, Default)]
pub struct Scrape(Vec<Sample>);

impl Scrape {
    /// Parses the Prometheus / OpenMetrics text format; lines it cannot read are skipped.
    pub fn parse(text: &str) -> Self {
        Scrape(text.lines().filter_map(sample).collect())
    }

    /// The sum of every series of `name`.
    pub fn sum(&self, name: &str) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.value)
            .sum()
    }

    /// The sum of the series of `name` with `label` = `value`.
    pub fn sum_where(&self, name: &str, label: &str, value: &str) -> f64 {
        self.0
            .iter()
            .filter(|s| s.name == name && s.label(label) == Some(value))
            .map(|s| s.value)
            .sum()
    }

    /// The series of `name` summed by the value of `label`.
    pub fn by(&self, name: &str, label: &str) -> BTreeMap<String, f64> {
        let mut sums = BTreeMap::new();
        for sample in self.0.iter().filter(|s| s.name == name) {
            let key = sample.label(label).unwrap_or_default().to_owned();
            *sums.entry(key).or_insert(0.0) += sample.value;
        }
        sums
    }
}

impl Sample {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn sample(line: &str) -> Option<Sample> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let (series, value) = line.rsplit_once(' ')?;
    let value = value.parse().ok()?;
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => (name, labels(rest.strip_suffix('}')?)),
        None => (series, Vec::new()),
    };
    Some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

/// `a="x",b="y"`; label values here never contain quotes or commas.
fn labels(text: &str) -> Vec<(String, String)> {
    text.split(',')
        .filter_map(|pair| {
            let (key, value) = pair.split_once('=')?;
            Some((
                key.trim().to_owned(),
                value.trim().trim_matches('"').to_owned(),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_summed_by_name_and_label() {
        let scrape = Scrape::parse(
            "# HELP aim_api_requests Requests\n\
             aim_api_requests_total{verb=\"patch\",resource=\"aimservices/status\"} 3\n\
             aim_api_requests_total{verb=\"patch\",resource=\"inferenceservices\"} 4\n\
             aim_api_requests_total{verb=\"get\",resource=\"storageclasses\"} 1\n\
             aim_reconcile_duration_seconds_sum{controller=\"service\"} 0.25\n\
             # EOF\n",
        );
        assert_eq!(scrape.sum("aim_api_requests_total"), 8.0);
        assert_eq!(
            scrape.sum_where("aim_api_requests_total", "verb", "patch"),
            7.0
        );
        assert_eq!(scrape.by("aim_api_requests_total", "verb")["get"], 1.0);
        assert_eq!(scrape.sum("aim_reconcile_duration_seconds_sum"), 0.25);
    }
}
