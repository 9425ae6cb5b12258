//! Template selection (docs/aimservice.md explains it to users): among the templates serving a
//! model, keep the Ready ones that fit the overrides and the cluster's GPUs, prefer namespace
//! templates, then rank by GPU, metric and precision.

use std::cmp::Ordering;

use crate::gpu::normalize_gpu_model;

/// Best first; anything else ranks after all of these.
const GPU_PREFERENCE: [&str; 6] = ["MI325X", "MI300X", "MI250X", "MI210", "A100", "H100"];
const METRIC_PREFERENCE: [&str; 2] = ["LATENCY", "THROUGHPUT"];
const PRECISION_PREFERENCE: [&str; 4] = ["FP8", "FP16", "BF16", "FP32"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Namespace,
    Cluster,
}

/// A template that serves the requested model, with the properties selection looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub name: String,
    pub namespace: Option<String>,
    pub scope: Scope,
    pub status: String,
    pub metric: Option<String>,
    pub precision: Option<String>,
    pub gpu_model: Option<String>,
    pub gpu_count: Option<u32>,
    pub derived: bool,
}

/// A service's overrides; each field that is set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub metric: Option<String>,
    pub precision: Option<String>,
    pub gpu_model: Option<String>,
    pub gpu_count: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Selected,
    NoCandidates,
    NoneReady,
    NoneAvailable,
    Ambiguous,
}

/// The outcome: the chosen candidate's index (only when exactly one is best) and how many tie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    pub index: Option<usize>,
    pub count: usize,
    pub reason: Reason,
}

/// The best candidate, or why there is none.
pub fn select_template(
    candidates: &[Candidate],
    available_gpu_models: &[String],
    overrides: Option<&Overrides>,
) -> Selection {
    let eligible: Vec<usize> = (0..candidates.len())
        .filter(|&i| !candidates[i].derived)
        .collect();
    if eligible.is_empty() {
        return Selection {
            index: None,
            count: 0,
            reason: Reason::NoCandidates,
        };
    }
    let ready: Vec<usize> = eligible
        .into_iter()
        .filter(|&i| candidates[i].status == "Ready")
        .collect();
    if ready.is_empty() {
        return Selection {
            index: None,
            count: 0,
            reason: Reason::NoneReady,
        };
    }
    let available: Vec<String> = available_gpu_models
        .iter()
        .map(|m| normalize_gpu_model(m))
        .collect();
    let mut fitting: Vec<usize> = ready
        .into_iter()
        .filter(|&i| overrides.is_none_or(|o| matches_overrides(&candidates[i], o)))
        .filter(|&i| gpu_is_available(&candidates[i], &available))
        .collect();
    if fitting
        .iter()
        .any(|&i| candidates[i].scope == Scope::Namespace)
    {
        fitting.retain(|&i| candidates[i].scope == Scope::Namespace);
    }
    let Some(&best) = fitting
        .iter()
        .min_by(|&&a, &&b| compare(&candidates[a], &candidates[b]))
    else {
        return Selection {
            index: None,
            count: 0,
            reason: Reason::NoneAvailable,
        };
    };
    let count = fitting
        .iter()
        .filter(|&&i| compare(&candidates[i], &candidates[best]) == Ordering::Equal)
        .count();
    if count == 1 {
        Selection {
            index: Some(best),
            count,
            reason: Reason::Selected,
        }
    } else {
        Selection {
            index: None,
            count,
            reason: Reason::Ambiguous,
        }
    }
}

fn matches_overrides(candidate: &Candidate, overrides: &Overrides) -> bool {
    let text_matches = |wanted: &Option<String>, actual: &Option<String>| match (wanted, actual) {
        (None, _) => true,
        (Some(w), Some(a)) => w.eq_ignore_ascii_case(a),
        (Some(_), None) => false,
    };
    let gpu_matches = match (&overrides.gpu_model, &candidate.gpu_model) {
        (None, _) => true,
        (Some(w), Some(a)) => normalize_gpu_model(w) == normalize_gpu_model(a),
        (Some(_), None) => false,
    };
    let count_matches = overrides.gpu_count.is_none() || overrides.gpu_count == candidate.gpu_count;
    text_matches(&overrides.metric, &candidate.metric)
        && text_matches(&overrides.precision, &candidate.precision)
        && gpu_matches
        && count_matches
}

fn gpu_is_available(candidate: &Candidate, available: &[String]) -> bool {
    gpu_present(candidate.gpu_model.as_deref(), available)
}

/// A template without a GPU model runs anywhere; otherwise its model must be among the cluster's
/// (normalized) GPU models.
pub fn gpu_present(gpu_model: Option<&str>, available: &[String]) -> bool {
    match gpu_model.map(str::trim).filter(|m| !m.is_empty()) {
        None => true,
        Some(model) => available.contains(&normalize_gpu_model(model)),
    }
}

/// Lower is better: GPU rank, then metric, then precision.
fn compare(a: &Candidate, b: &Candidate) -> Ordering {
    score(a).cmp(&score(b))
}

fn score(candidate: &Candidate) -> (usize, usize, usize) {
    let gpu = candidate.gpu_model.as_deref().map(normalize_gpu_model);
    (
        rank(&GPU_PREFERENCE, gpu.as_deref()),
        rank(
            &METRIC_PREFERENCE,
            candidate
                .metric
                .as_deref()
                .map(str::to_uppercase)
                .as_deref(),
        ),
        rank(
            &PRECISION_PREFERENCE,
            candidate
                .precision
                .as_deref()
                .map(str::to_uppercase)
                .as_deref(),
        ),
    )
}

fn rank(preference: &[&str], value: Option<&str>) -> usize {
    value
        .and_then(|v| preference.iter().position(|p| *p == v))
        .unwrap_or(preference.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(name: &str, gpu: &str, metric: &str, precision: &str) -> Candidate {
        Candidate {
            name: name.to_string(),
            namespace: Some("ml".to_string()),
            scope: Scope::Namespace,
            status: "Ready".to_string(),
            metric: Some(metric.to_string()),
            precision: Some(precision.to_string()),
            gpu_model: Some(gpu.to_string()),
            gpu_count: Some(1),
            derived: false,
        }
    }

    fn gpus(models: &[&str]) -> Vec<String> {
        models.iter().map(|m| m.to_string()).collect()
    }

    #[test]
    fn the_preferred_gpu_wins_then_latency_then_fp8() {
        let candidates = [
            template("a", "MI300X", "throughput", "fp8"),
            template("b", "MI325X", "throughput", "fp16"),
            template("c", "MI325X", "latency", "fp16"),
            template("d", "MI325X", "latency", "fp8"),
        ];
        let selection = select_template(&candidates, &gpus(&["MI300X", "Instinct MI325X"]), None);
        assert_eq!(
            selection,
            Selection {
                index: Some(3),
                count: 1,
                reason: Reason::Selected
            }
        );
    }

    #[test]
    fn templates_for_absent_gpus_are_filtered_out() {
        let candidates = [
            template("a", "MI325X", "latency", "fp8"),
            template("b", "MI300X", "latency", "fp8"),
        ];
        assert_eq!(
            select_template(&candidates, &gpus(&["mi300x"]), None).index,
            Some(1)
        );
        assert_eq!(
            select_template(&candidates, &[], None).reason,
            Reason::NoneAvailable
        );
    }

    #[test]
    fn namespace_templates_hide_cluster_templates() {
        let mut cluster = template("cluster", "MI325X", "latency", "fp8");
        cluster.scope = Scope::Cluster;
        cluster.namespace = None;
        let candidates = [cluster, template("ns", "MI300X", "throughput", "fp16")];
        assert_eq!(
            select_template(&candidates, &gpus(&["MI300X", "MI325X"]), None).index,
            Some(1)
        );
    }

    #[test]
    fn identical_scores_are_ambiguous() {
        let candidates = [
            template("a", "MI300X", "latency", "fp8"),
            template("b", "MI300X", "latency", "fp8"),
        ];
        let selection = select_template(&candidates, &gpus(&["MI300X"]), None);
        assert_eq!(
            selection,
            Selection {
                index: None,
                count: 2,
                reason: Reason::Ambiguous
            }
        );
    }

    #[test]
    fn no_candidates_and_none_ready_are_told_apart() {
        assert_eq!(select_template(&[], &[], None).reason, Reason::NoCandidates);
        let mut pending = template("a", "MI300X", "latency", "fp8");
        pending.status = "Pending".to_string();
        assert_eq!(
            select_template(&[pending], &gpus(&["MI300X"]), None).reason,
            Reason::NoneReady
        );
        let mut derived = template("d", "MI300X", "latency", "fp8");
        derived.derived = true;
        assert_eq!(
            select_template(&[derived], &gpus(&["MI300X"]), None).reason,
            Reason::NoCandidates
        );
    }

    #[test]
    fn overrides_filter_case_insensitively() {
        let candidates = [
            template("lat", "MI300X", "latency", "fp8"),
            template("thr", "MI300X", "Throughput", "FP8"),
        ];
        let overrides = Overrides {
            metric: Some("throughput".to_string()),
            precision: Some("fp8".to_string()),
            ..Overrides::default()
        };
        assert_eq!(
            select_template(&candidates, &gpus(&["MI300X"]), Some(&overrides)).index,
            Some(1)
        );
        let two_gpus = Overrides {
            gpu_count: Some(2),
            ..Overrides::default()
        };
        assert_eq!(
            select_template(&candidates, &gpus(&["MI300X"]), Some(&two_gpus)).reason,
            Reason::NoneAvailable
        );
    }

    #[test]
    fn a_template_without_a_gpu_model_runs_anywhere() {
        let mut anywhere = template("any", "", "latency", "fp8");
        anywhere.gpu_model = None;
        assert_eq!(select_template(&[anywhere], &[], None).index, Some(0));
    }
}
