//! The GPU models a cluster has, read from node labels only: AMD device ids and families, NVIDIA
//! product labels. Capacity is ignored; a label is what says a GPU is there.

use std::collections::BTreeSet;

use aim_api::policy::observation::NodeLabels;

use crate::gpu::{amd_model_from_device_id, normalize_gpu_model};

const AMD_DEVICE_ID_LABELS: [&str; 2] = ["amd.com/gpu.device-id", "beta.amd.com/gpu.device-id"];
const AMD_FAMILY_LABEL: &str = "amd.com/gpu.family";
const NVIDIA_LABELS: [&str; 4] = [
    "nvidia.com/gpu.product",
    "nvidia.com/mig.product",
    "nvidia.com/gpu.family",
    "feature.node.kubernetes.io/nvidia-gpu-model",
];

/// Normalized GPU models present on any node.
pub fn cluster_gpu_models(nodes: &[NodeLabels]) -> BTreeSet<String> {
    nodes.iter().flat_map(node_gpu_models).collect()
}

fn node_gpu_models(node: &NodeLabels) -> Vec<String> {
    let mut models = Vec::new();
    let mut amd_found = false;
    for label in AMD_DEVICE_ID_LABELS {
        if let Some(id) = node.labels.get(label).filter(|v| !v.trim().is_empty()) {
            models.push(normalize_gpu_model(&amd_model_from_device_id(id)));
            amd_found = true;
        }
        // Node feature discovery also publishes one label per device id: `<label>.<id>`.
        let prefix = format!("{label}.");
        for (key, value) in node.labels.range(prefix.clone()..) {
            let Some(id) = key.strip_prefix(&prefix) else {
                break;
            };
            if !id.is_empty() && value != "0" && !value.is_empty() {
                models.push(normalize_gpu_model(&amd_model_from_device_id(id)));
                amd_found = true;
            }
        }
    }
    if !amd_found {
        if let Some(family) = node
            .labels
            .get(AMD_FAMILY_LABEL)
            .filter(|v| !v.trim().is_empty())
        {
            models.push(normalize_gpu_model(family));
        }
        let prefix = format!("{AMD_FAMILY_LABEL}.");
        for (key, value) in node.labels.range(prefix.clone()..) {
            let Some(family) = key.strip_prefix(&prefix) else {
                break;
            };
            if !family.is_empty() && value != "0" {
                models.push(normalize_gpu_model(family));
            }
        }
    }
    for label in NVIDIA_LABELS {
        if let Some(product) = node.labels.get(label).filter(|v| !v.trim().is_empty()) {
            models.push(normalize_gpu_model(product));
        }
    }
    models
}

/// AMD device ids of a GPU model, sorted, for node affinity; empty for non-AMD or unknown models.
pub fn amd_device_ids(model: &str) -> Vec<&'static str> {
    let wanted = normalize_gpu_model(model);
    let mut ids: Vec<&'static str> = AMD_DEVICE_IDS
        .iter()
        .copied()
        .filter(|id| amd_model_from_device_id(id) == wanted)
        .collect();
    ids.sort_unstable();
    ids
}

/// Every device id the AMD table knows.
const AMD_DEVICE_IDS: [&str; 35] = [
    "738c", "738e", "7408", "740c", "740f", "7410", "74a0", "74a1", "74a9", "74b5", "74bd", "74a2",
    "74a8", "74b6", "74a5", "74b9", "75a0", "75b0", "75a3", "75b3", "7460", "7461", "7448", "744a",
    "7449", "745e", "73a2", "73a3", "73ab", "73a1", "73ae", "7550", "744c", "73af", "73bf",
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn node(labels: &[(&str, &str)]) -> NodeLabels {
        NodeLabels {
            name: "n".into(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn an_amd_device_id_label_names_the_model() {
        let gpus = cluster_gpu_models(&[node(&[("amd.com/gpu.device-id", "74a1")])]);
        assert_eq!(gpus.into_iter().collect::<Vec<_>>(), ["MI300X"]);
    }

    #[test]
    fn label_variants_are_understood() {
        let gpus = cluster_gpu_models(&[
            node(&[("beta.amd.com/gpu.device-id", "0x74a5")]),
            node(&[
                ("amd.com/gpu.device-id.75a0", "4"),
                ("amd.com/gpu.device-id.74a1", "0"),
            ]),
            node(&[("amd.com/gpu.family", "AI")]),
            node(&[("nvidia.com/gpu.product", "NVIDIA-A100-SXM4-40GB")]),
            node(&[("kubernetes.io/hostname", "cpu-only")]),
        ]);
        assert_eq!(
            gpus.into_iter().collect::<Vec<_>>(),
            ["A100", "AI", "MI325X", "MI350X"]
        );
    }

    #[test]
    fn affinity_uses_every_device_id_of_a_model() {
        assert_eq!(amd_device_ids("MI300X"), ["74a1", "74a9", "74b5", "74bd"]);
        assert!(amd_device_ids("H100").is_empty());
    }
}
