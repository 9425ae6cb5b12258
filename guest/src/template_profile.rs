//! A template's runtime profile as the spec declares it: for templates with in-line model sources
//! (which never run discovery) the spec is the whole profile, and for the others it shows what the
//! template asks for until discovery reports. Engine, engine arguments and profile environment are
//! known only from discovery.

use aim_api::v1alpha1::{AIMProfile, AIMProfileMetadata, AIMServiceTemplateSpecCommon};

/// The profile the spec declares; `None` when a template that runs discovery declares nothing.
pub fn declared_profile(common: &AIMServiceTemplateSpecCommon) -> Option<AIMProfile> {
    let runtime = &common.runtime;
    let declares =
        runtime.metric.is_some() || runtime.precision.is_some() || runtime.gpu_selector.is_some();
    if !declares && common.model_sources.is_empty() {
        return None;
    }
    let gpu = runtime.gpu_selector.as_ref();
    Some(AIMProfile {
        engine_args: None,
        env_vars: Default::default(),
        metadata: AIMProfileMetadata {
            engine: String::new(),
            gpu: gpu.map(|g| g.model.clone()).unwrap_or_default(),
            gpu_count: gpu.map_or(0, |g| g.count),
            metric: runtime.metric.map(|m| enum_text(&m)).unwrap_or_default(),
            precision: runtime.precision.map(|p| enum_text(&p)).unwrap_or_default(),
        },
    })
}

/// The serialized form of a unit enum (`latency`, `fp8`, `Ready`).
pub fn enum_text(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn common(spec: serde_json::Value) -> AIMServiceTemplateSpecCommon {
        serde_json::from_value(spec).unwrap()
    }

    #[test]
    fn an_inline_template_declares_its_metric_precision_and_gpu() {
        let profile = declared_profile(&common(json!({
            "modelName": "m", "metric": "throughput", "precision": "fp16",
            "gpuSelector": {"count": 2, "model": "MI300X"},
            "modelSources": [{"sourceUri": "hf://a/b", "size": "1Gi"}]
        })))
        .unwrap();
        assert_eq!(
            serde_json::to_value(profile).unwrap(),
            json!({"metadata": {"gpu": "MI300X", "gpu_count": 2, "metric": "throughput", "precision": "fp16"}})
        );
    }

    #[test]
    fn an_inline_template_without_settings_still_has_a_profile() {
        let profile = declared_profile(&common(json!({
            "modelName": "m", "modelSources": [{"sourceUri": "hf://a/b", "size": "1Gi"}]
        })));
        assert_eq!(
            serde_json::to_value(profile).unwrap(),
            json!({"metadata": {"gpu_count": 0}})
        );
    }

    #[test]
    fn a_discovering_template_that_declares_nothing_has_none() {
        assert_eq!(declared_profile(&common(json!({"modelName": "m"}))), None);
    }
}
