//! The workload: what each benchmark namespace holds besides its services, and the mix of
//! services. Every namespace has a Ready model (discovery off) and two templates with in-line
//! model sources (Ready without discovery Jobs); services pick from them in fixed proportions, so
//! a run of any size has the same mix.

use serde_json::{Value, json};

/// The image of the model every namespace serves.
pub const MODEL_IMAGE: &str = "ghcr.io/silogen/aim-meta-llama-llama-3-1-8b-instruct:0.7.0";
/// The model's name in each namespace.
pub const MODEL: &str = "llama";
/// Templates of each namespace.
pub const TEMPLATES: [&str; 2] = ["llama-latency", "llama-throughput"];

/// The model and templates of one namespace, in creation order.
pub fn namespace_objects() -> Vec<Value> {
    let template = |name: &str, metric: &str| {
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate",
            "metadata": {"name": name},
            "spec": {
                "modelName": MODEL, "metric": metric, "precision": "fp8",
                "gpuSelector": {"count": 1, "model": "MI300X"},
                "modelSources": [{
                    "name": "amd/Llama-3.1-8B-Instruct-FP8-KV",
                    "sourceUri": "hf://amd/Llama-3.1-8B-Instruct-FP8-KV",
                    "size": "16Gi"
                }]
            }
        })
    };
    vec![
        json!({
            "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMModel",
            "metadata": {"name": MODEL},
            "spec": {"image": MODEL_IMAGE, "discovery": {"enabled": false}}
        }),
        template(TEMPLATES[0], "latency"),
        template(TEMPLATES[1], "throughput"),
    ]
}

/// The kinds of service in the mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// By model reference; the operator selects the template. 40%.
    Selected,
    /// As `Selected`, exposed through a gateway (an HTTPRoute to be Accepted). 20%.
    Routed,
    /// Naming its template. 15%.
    TemplateRef,
    /// With overrides no template matches: two variants, each a derived template. 15%.
    Overrides,
    /// Caching its model: a template cache, model caches, a volume and a download Job. 10%.
    Cached,
}

impl Kind {
    /// The kind of the `index`th service: the same 20-service pattern repeated, interleaved so
    /// that any 10 consecutive services include every kind.
    pub fn of(index: usize) -> Self {
        use Kind::{Cached as C, Overrides as O, Routed as R, Selected as S, TemplateRef as T};
        const PATTERN: [Kind; 20] = [S, R, T, O, C, S, S, R, O, S, T, S, R, O, C, T, S, S, R, S];
        PATTERN[index % PATTERN.len()]
    }

    pub fn name(self) -> &'static str {
        match self {
            Kind::Selected => "selected",
            Kind::Routed => "routed",
            Kind::TemplateRef => "template-ref",
            Kind::Overrides => "overrides",
            Kind::Cached => "cached",
        }
    }
}

/// The `index`th service, named `svc-<index>`.
pub fn service(index: usize) -> Value {
    let model = json!({"ref": MODEL});
    let spec = match Kind::of(index) {
        Kind::Selected => json!({"model": model}),
        Kind::Routed => json!({
            "model": model,
            "routing": {"enabled": true, "gatewayRef": {"name": "gw", "namespace": "gateways"}}
        }),
        Kind::TemplateRef => json!({"model": model, "templateRef": TEMPLATES[1]}),
        Kind::Overrides if index.is_multiple_of(2) => {
            json!({"model": model, "overrides": {"precision": "fp16"}})
        }
        Kind::Overrides => json!({
            "model": model, "overrides": {"metric": "throughput", "precision": "fp16"}
        }),
        Kind::Cached => json!({"model": model, "cacheModel": true}),
    };
    json!({
        "apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService",
        "metadata": {"name": format!("svc-{index}")},
        "spec": spec
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_twenty_services_have_the_stated_proportions_and_every_ten_each_kind() {
        let count = |kind| (0..20).filter(|i| Kind::of(*i) == kind).count();
        for start in 0..20 {
            let mut kinds: Vec<Kind> = (start..start + 10).map(Kind::of).collect();
            kinds.sort();
            kinds.dedup();
            assert_eq!(kinds.len(), 5, "services {start}..{}", start + 10);
        }
        assert_eq!(
            [
                count(Kind::Selected),
                count(Kind::Routed),
                count(Kind::TemplateRef),
                count(Kind::Overrides),
                count(Kind::Cached)
            ],
            [8, 4, 3, 3, 2]
        );
    }
}
