//! Which template a service runs: the one it names, or the best Ready template for its model;
//! overrides that no template matches produce a derived template `<base>-ovr-<hash8>`, reused when
//! one with the same spec already exists.

use aim_api::conditions::{AIMTemplateStatusEnum, labels};
use aim_api::policy::observation::ServiceObservation;
use aim_api::v1alpha1::{
    AIMClusterServiceTemplate, AIMResolutionScope, AIMResolvedReference, AIMRuntimeParameters,
    AIMService, AIMServiceTemplate, AIMServiceTemplateSpec, AIMServiceTemplateSpecCommon,
    AIMServiceTemplateStatus, AIMTemplateCaching,
};
use k8s_openapi::api::core::v1::EnvVar;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

use crate::PolicyFailure;
use crate::advisor::{Advisor, select_template};
use crate::flows::support::to_json;
use crate::resource_names::derived_template_name;
use crate::selection::{Candidate, Overrides, Reason, Scope};
pub use crate::template_profile::enum_text;

/// A template the service resolved to, namespaced or cluster-scoped.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedTemplate {
    /// For `status.resolvedTemplate`.
    pub reference: AIMResolvedReference,
    /// The spec both kinds share.
    pub common: AIMServiceTemplateSpecCommon,
    /// Its status, if any yet.
    pub status: Option<AIMServiceTemplateStatus>,
    /// Caching settings (namespace templates only).
    pub caching: Option<AIMTemplateCaching>,
    /// Discovery environment (namespace templates only).
    pub env: Vec<EnvVar>,
    /// Whether it was derived from a service's overrides.
    pub derived: bool,
}

impl ResolvedTemplate {
    /// The template's name.
    pub fn name(&self) -> &str {
        &self.reference.name
    }

    /// The template's `status.status`.
    pub fn state(&self) -> AIMTemplateStatusEnum {
        self.status.as_ref().map(|s| s.status).unwrap_or_default()
    }

    /// The GPU model the runtime runs on: its profile's, else its selector's.
    pub fn runtime_gpu(&self) -> Option<String> {
        self.status
            .as_ref()
            .and_then(|s| s.profile.as_ref())
            .map(|p| p.metadata.gpu.clone())
            .filter(|gpu| !gpu.trim().is_empty())
            .or_else(|| {
                self.common
                    .runtime
                    .gpu_selector
                    .as_ref()
                    .map(|g| g.model.clone())
                    .filter(|gpu| !gpu.trim().is_empty())
            })
    }
}

/// What template resolution found.
#[derive(Debug, Clone, PartialEq)]
pub enum TemplateResolution {
    /// A template exists.
    Found(Box<ResolvedTemplate>),
    /// A derived template is planned; the service waits for it.
    CreatingDerived { name: String },
    /// The named template (or the base of a derived one) does not exist.
    NotFound { message: String },
    /// Auto-selection failed: `TemplateNotFound` or `TemplateSelectionAmbiguous`.
    NotSelected { reason: String, message: String },
    /// Templates exist for the model but none is Ready yet.
    NoneReady,
    /// Auto-selection waits for the model.
    WaitingForModel,
}

/// The derived template to apply, when the service owns one.
pub type DerivedObject = Option<Value>;

/// Resolves the template (the advisor selects first), and returns the derived template object the
/// plan must apply.
pub fn resolve(
    observation: &ServiceObservation,
    model_name: Option<&str>,
    model_ready: bool,
    gpus: &[String],
    advisor: &dyn Advisor,
) -> Result<(TemplateResolution, DerivedObject), PolicyFailure> {
    let service = &observation.service;
    let overrides = service.spec.overrides.as_ref().filter(|o| !o.is_empty());
    let base = match service
        .spec
        .template_ref
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
    {
        Some(name) => match by_name(observation, name) {
            Some(template) => template,
            None => {
                let message = format!(
                    "Template {name:?} not found. Create the template or verify the template name."
                );
                return Ok((TemplateResolution::NotFound { message }, None));
            }
        },
        None => {
            let (Some(model), true) = (model_name, model_ready) else {
                return Ok((TemplateResolution::WaitingForModel, None));
            };
            match auto_select(observation, model, gpus, overrides, advisor) {
                Ok(Selected::Exact(template)) => {
                    return Ok((TemplateResolution::Found(Box::new(template)), None));
                }
                Ok(Selected::Base(template)) => template,
                Err(resolution) => return Ok((resolution, None)),
            }
        }
    };
    match overrides {
        None => Ok((TemplateResolution::Found(Box::new(base)), None)),
        Some(overrides) => derive(observation, &base, overrides),
    }
}

enum Selected {
    /// Matches the overrides (or there are none): use it as it is.
    Exact(ResolvedTemplate),
    /// The best base for a derived template.
    Base(ResolvedTemplate),
}

fn auto_select(
    observation: &ServiceObservation,
    model: &str,
    gpus: &[String],
    overrides: Option<&AIMRuntimeParameters>,
    advisor: &dyn Advisor,
) -> Result<Selected, TemplateResolution> {
    let templates = candidates(observation, model);
    let list: Vec<Candidate> = templates.iter().map(candidate).collect();
    if let Some(overrides) = overrides {
        let wanted = selection_overrides(overrides);
        let exact = select_template(advisor, &list, gpus, Some(&wanted)).map_err(refused)?;
        if let (Reason::Selected, Some(index)) = (exact.reason, exact.index) {
            return Ok(Selected::Exact(chosen(&templates, index)?));
        }
    }
    let best = select_template(advisor, &list, gpus, None).map_err(refused)?;
    match (best.reason, best.index) {
        (Reason::Selected, Some(index)) if overrides.is_some() => {
            Ok(Selected::Base(chosen(&templates, index)?))
        }
        (Reason::Selected, Some(index)) => Ok(Selected::Exact(chosen(&templates, index)?)),
        (Reason::NoneReady, _) => Err(TemplateResolution::NoneReady),
        (Reason::Ambiguous, _) => Err(TemplateResolution::NotSelected {
            reason: aim_api::conditions::reasons::TEMPLATE_SELECTION_AMBIGUOUS.to_owned(),
            message: format!(
                "Multiple templates ({}) satisfy model {model:?}",
                best.count
            ),
        }),
        (Reason::NoCandidates, _) => Err(TemplateResolution::NotSelected {
            reason: aim_api::conditions::reasons::TEMPLATE_NOT_FOUND.to_owned(),
            message: format!("No templates found for model {model:?}"),
        }),
        _ => Err(TemplateResolution::NotSelected {
            reason: aim_api::conditions::reasons::TEMPLATE_NOT_FOUND.to_owned(),
            message: format!(
                "No available templates match the service requirements for model {model:?}"
            ),
        }),
    }
}

/// The candidate a selection chose; a custom selection may name an index that does not exist.
fn chosen(
    templates: &[ResolvedTemplate],
    index: usize,
) -> Result<ResolvedTemplate, TemplateResolution> {
    templates
        .get(index)
        .cloned()
        .ok_or_else(|| TemplateResolution::NotSelected {
            reason: "PolicyOutputInvalid".to_owned(),
            message: format!(
                "The template selection chose candidate {index} of {}",
                templates.len()
            ),
        })
}

/// A selection that failed (only a custom policy's can) stops the service with its reason.
fn refused(failure: PolicyFailure) -> TemplateResolution {
    match failure {
        PolicyFailure::Rejected { reason, message } => {
            TemplateResolution::NotSelected { reason, message }
        }
        PolicyFailure::InvalidInput(message) => TemplateResolution::NotSelected {
            reason: "PolicyInvalidInput".to_owned(),
            message,
        },
    }
}

fn selection_overrides(overrides: &AIMRuntimeParameters) -> Overrides {
    Overrides {
        metric: overrides.metric.map(|m| enum_text(&m)),
        precision: overrides.precision.map(|p| enum_text(&p)),
        gpu_model: overrides.gpu_selector.as_ref().map(|g| g.model.clone()),
        gpu_count: overrides
            .gpu_selector
            .as_ref()
            .and_then(|g| u32::try_from(g.count).ok()),
    }
}

/// Non-derived templates of the model: namespace ones first, then cluster ones.
fn candidates(observation: &ServiceObservation, model: &str) -> Vec<ResolvedTemplate> {
    let namespaced = observation
        .templates
        .iter()
        .filter(|t| t.spec.common.model_name == model && !is_derived(&t.metadata))
        .map(from_namespaced);
    let cluster = observation
        .cluster_templates
        .iter()
        .filter(|t| t.spec.common.model_name == model && !is_derived(&t.metadata))
        .map(from_cluster);
    namespaced.chain(cluster).collect()
}

fn candidate(template: &ResolvedTemplate) -> Candidate {
    let profile = template
        .status
        .as_ref()
        .and_then(|s| s.profile.as_ref())
        .map(|p| &p.metadata);
    let non_empty = |s: &str| Some(s.to_owned()).filter(|s| !s.is_empty());
    let runtime = &template.common.runtime;
    Candidate {
        name: template.reference.name.clone(),
        namespace: template.reference.namespace.clone(),
        scope: if template.reference.scope == AIMResolutionScope::Namespace {
            Scope::Namespace
        } else {
            Scope::Cluster
        },
        status: enum_text(&template.state()),
        metric: profile
            .and_then(|p| non_empty(&p.metric))
            .or_else(|| runtime.metric.map(|m| enum_text(&m))),
        precision: profile
            .and_then(|p| non_empty(&p.precision))
            .or_else(|| runtime.precision.map(|p| enum_text(&p))),
        gpu_model: runtime
            .gpu_selector
            .as_ref()
            .map(|g| g.model.clone())
            .or_else(|| profile.and_then(|p| non_empty(&p.gpu))),
        gpu_count: runtime
            .gpu_selector
            .as_ref()
            .map(|g| g.count)
            .or_else(|| profile.map(|p| p.gpu_count).filter(|c| *c > 0))
            .and_then(|c| u32::try_from(c).ok()),
        derived: false,
    }
}

fn is_derived(metadata: &ObjectMeta) -> bool {
    metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::DERIVED_TEMPLATE))
        .is_some_and(|v| v == "true")
}

/// A template by name: the service's namespace first, then the cluster.
fn by_name(observation: &ServiceObservation, name: &str) -> Option<ResolvedTemplate> {
    let namespaced = observation
        .templates
        .iter()
        .find(|t| t.metadata.name.as_deref() == Some(name))
        .map(from_namespaced);
    namespaced.or_else(|| {
        observation
            .cluster_templates
            .iter()
            .find(|t| t.metadata.name.as_deref() == Some(name))
            .map(from_cluster)
    })
}

fn from_namespaced(template: &AIMServiceTemplate) -> ResolvedTemplate {
    ResolvedTemplate {
        reference: reference(
            &template.metadata,
            AIMResolutionScope::Namespace,
            "AIMServiceTemplate",
        ),
        common: template.spec.common.clone(),
        status: template.status.clone(),
        caching: template.spec.caching.clone(),
        env: template.spec.env.clone(),
        derived: is_derived(&template.metadata),
    }
}

fn from_cluster(template: &AIMClusterServiceTemplate) -> ResolvedTemplate {
    ResolvedTemplate {
        reference: reference(
            &template.metadata,
            AIMResolutionScope::Cluster,
            "AIMClusterServiceTemplate",
        ),
        common: template.spec.common.clone(),
        status: template.status.clone(),
        caching: None,
        env: Vec::new(),
        derived: false,
    }
}

fn reference(metadata: &ObjectMeta, scope: AIMResolutionScope, kind: &str) -> AIMResolvedReference {
    AIMResolvedReference {
        name: metadata.name.clone().unwrap_or_default(),
        namespace: metadata.namespace.clone(),
        scope,
        kind: Some(format!("{}/{kind}", aim_api::API_VERSION)),
        uid: metadata.uid.clone(),
        hash: None,
    }
}

/// The derived template for `base` and the service's overrides: the existing one of that name,
/// an existing template with the same spec, or a new one to create.
fn derive(
    observation: &ServiceObservation,
    base: &ResolvedTemplate,
    overrides: &AIMRuntimeParameters,
) -> Result<(TemplateResolution, DerivedObject), PolicyFailure> {
    let service = &observation.service;
    let name = derived_template_name(base.name(), overrides);
    let spec = derived_spec(service, base, overrides);
    let object = to_json(&derived_object(service, &name, &spec))?;
    if let Some(existing) = observation
        .templates
        .iter()
        .find(|t| t.metadata.name.as_deref() == Some(name.as_str()))
    {
        return Ok((
            TemplateResolution::Found(Box::new(from_namespaced(existing))),
            Some(object),
        ));
    }
    let same_namespaced = observation.templates.iter().find(|t| t.spec == spec);
    if let Some(existing) = same_namespaced {
        return Ok((
            TemplateResolution::Found(Box::new(from_namespaced(existing))),
            None,
        ));
    }
    let plain =
        spec.caching.is_none() && spec.env.is_empty() && spec.common.image_pull_secrets.is_empty();
    if let Some(existing) = observation
        .cluster_templates
        .iter()
        .find(|t| plain && t.spec.common == spec.common)
    {
        return Ok((
            TemplateResolution::Found(Box::new(from_cluster(existing))),
            None,
        ));
    }
    Ok((TemplateResolution::CreatingDerived { name }, Some(object)))
}

/// The derived template's spec: the base spec with the overrides, and the service's env, secrets, resources and caching.
fn derived_spec(
    service: &AIMService,
    base: &ResolvedTemplate,
    overrides: &AIMRuntimeParameters,
) -> AIMServiceTemplateSpec {
    let mut common = base.common.clone();
    common
        .runtime_config_name
        .clone_from(&service.spec.runtime_config_name);
    common.runtime.metric = overrides.metric.or(common.runtime.metric);
    common.runtime.precision = overrides.precision.or(common.runtime.precision);
    if overrides.gpu_selector.is_some() {
        common
            .runtime
            .gpu_selector
            .clone_from(&overrides.gpu_selector);
    }
    if !service.spec.image_pull_secrets.is_empty() {
        common
            .image_pull_secrets
            .clone_from(&service.spec.image_pull_secrets);
    }
    if service.spec.resources.is_some() {
        common.resources.clone_from(&service.spec.resources);
    }
    AIMServiceTemplateSpec {
        common,
        caching: if service.spec.cache_model {
            Some(AIMTemplateCaching {
                enabled: true,
                env: service.spec.env.clone(),
            })
        } else {
            base.caching.clone()
        },
        env: if service.spec.env.is_empty() {
            base.env.clone()
        } else {
            service.spec.env.clone()
        },
    }
}

fn derived_object(
    service: &AIMService,
    name: &str,
    spec: &AIMServiceTemplateSpec,
) -> AIMServiceTemplate {
    let mut template = AIMServiceTemplate::new(name, spec.clone());
    template
        .metadata
        .namespace
        .clone_from(&service.metadata.namespace);
    template.metadata.labels = Some(
        [
            (
                labels::APP_MANAGED_BY.to_owned(),
                "aim-controller".to_owned(),
            ),
            (labels::DERIVED_TEMPLATE.to_owned(), "true".to_owned()),
        ]
        .into(),
    );
    template
}
