//! Planning for AIMServiceTemplate and AIMClusterServiceTemplate: run discovery for the template's
//! profile (at most ten discovery Jobs cluster-wide, shared fairly among namespaces), offer a
//! KServe runtime once it is Ready, create its template cache when caching is on, and report its
//! status.

use aim_api::conditions::AIMTemplateStatusEnum;
use aim_api::policy::observation::TemplateObservation;
use aim_api::policy::plan::{DiscoveryLogRequest, Owner, Plan, PlannedObject};
use aim_api::v1alpha1::{
    AIMServiceTemplateStatus, AIMTemplateCache, AIMTemplateCacheSpec, DEFAULT_GPU_RESOURCE_NAME,
};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::LocalObjectReference;

use crate::PolicyFailure;
use crate::conditions::Conditions;
use crate::flows::discovery_job::{DiscoveryJobInput, discovery_job};
use crate::flows::serving_runtime::{RuntimeInput, serving_runtime};
use crate::flows::support::{merge_pull_secrets, new_plan, status_document, to_json};
use crate::flows::template_facts::{
    DiscoveryProgress, TemplateFacts, TemplateSubject, observe, subject,
};
use crate::flows::template_status::{Verdict, project_status, runtime_config_events};

/// Discovery Jobs allowed to run at once across the cluster.
pub const MAX_ACTIVE_DISCOVERY_JOBS: u32 = 10;
/// When to look again while discovery waits for a free slot or a Job runs: neither a slot freeing
/// elsewhere nor a pod stuck pulling its image changes anything this template watches.
const RECHECK_SECONDS: u32 = 30;

/// The finished discovery Job whose output this plan needs and the observation lacks. Without it
/// the plan reports the output as unavailable, and stands if the host cannot read it either.
fn discovery_log_wanted(
    observation: &TemplateObservation,
    facts: &TemplateFacts<'_>,
) -> Option<DiscoveryLogRequest> {
    match facts.discovery {
        DiscoveryProgress::Succeeded { job, .. } if observation.discovery_log.is_none() => {
            Some(DiscoveryLogRequest {
                job: job.metadata.name.clone()?,
            })
        }
        _ => None,
    }
}

/// Plans one template.
pub fn plan_template(observation: &TemplateObservation) -> Result<Plan, PolicyFailure> {
    let subject = subject(observation)?;
    let mut facts = observe(observation, &subject);
    let job = wanted_discovery_job(observation, &subject, &facts);
    let job_is_new = job.as_ref().is_some_and(|job| {
        !observation
            .jobs
            .iter()
            .any(|existing| existing.metadata.name == job.metadata.name)
    });
    facts.discovery_deferred = job_is_new && !discovery_slot_free(observation);

    let previous_conditions = subject
        .previous
        .map_or(&[][..], |status| &status.conditions[..]);
    let mut conditions = Conditions::new(previous_conditions, subject.generation);
    let verdict = project_status(&subject, &facts, &mut conditions);

    let mut plan = new_plan();
    if let Some(job) = job.filter(|_| job_is_new && !facts.discovery_deferred) {
        plan.apply.push(PlannedObject {
            object: to_json(&job)?,
            owner: Owner::Subject,
        });
    }
    if let Some(runtime) = runtime_object(&subject, &facts, &verdict)? {
        plan.apply.push(PlannedObject {
            object: runtime,
            owner: Owner::Subject,
        });
    }
    if let Some(cache) = template_cache(observation, &subject, &facts, &verdict) {
        plan.apply.push(PlannedObject {
            object: to_json(&cache)?,
            owner: Owner::Subject,
        });
    }
    if facts.discovery_deferred || matches!(facts.discovery, DiscoveryProgress::Running { .. }) {
        plan.requeue_after_seconds = Some(RECHECK_SECONDS);
    }
    plan.read_discovery_log = discovery_log_wanted(observation, &facts);
    let resolved_runtime_config = facts
        .runtime_config
        .as_ref()
        .ok()
        .and_then(|c| c.reference.clone());
    plan.events = runtime_config_events(&subject, resolved_runtime_config.as_ref());
    plan.events.extend(verdict.events.iter().cloned());
    let status = AIMServiceTemplateStatus {
        observed_generation: subject.generation,
        conditions: Vec::new(),
        resolved_runtime_config,
        resolved_model: facts.model.as_ref().map(|model| model.reference.clone()),
        status: verdict.status,
        model_sources: verdict.model_sources.clone(),
        profile: verdict.profile.clone(),
    };
    plan.status = Some(status_document(&status, conditions)?);
    Ok(plan)
}

/// Whether a new discovery Job may start: fewer than [`MAX_ACTIVE_DISCOVERY_JOBS`] run in the
/// cluster, and the namespace it would run in holds less than its fair share of them (the cap
/// divided among the namespaces running discovery, at least one each). One namespace with many
/// templates thus cannot keep every other namespace's discovery waiting: as its Jobs finish (at
/// the latest at their deadline), the freed slots go to the namespaces below their share.
fn discovery_slot_free(observation: &TemplateObservation) -> bool {
    let namespaces = observation.discovery_namespaces.max(1);
    let share = (MAX_ACTIVE_DISCOVERY_JOBS / namespaces).max(1);
    observation.active_discovery_jobs < MAX_ACTIVE_DISCOVERY_JOBS
        && observation.active_discovery_jobs_in_namespace < share
}

/// Pull secrets of the template's discovery pods: its own, its model's, then its runtime
/// config's, all names in the namespace the Job runs in.
fn pull_secrets(
    subject: &TemplateSubject<'_>,
    facts: &TemplateFacts<'_>,
) -> Vec<LocalObjectReference> {
    let model = facts.model.as_ref().map_or(&[][..], |m| m.pull_secrets);
    let config = facts
        .runtime_config
        .as_ref()
        .map_or(&[][..], |c| &c.image_pull_secrets[..]);
    merge_pull_secrets(&[&subject.common.image_pull_secrets, model, config])
}

/// Pull secrets of the template's runtime. A ClusterServingRuntime serves InferenceServices in
/// every namespace, where KServe adds its pull secrets to their pods; when the template's model
/// was created for one namespace, that namespace's names (the model's and its runtime config's)
/// must not be looked up in the others, so only the template's own remain.
fn runtime_pull_secrets(
    subject: &TemplateSubject<'_>,
    facts: &TemplateFacts<'_>,
) -> Vec<LocalObjectReference> {
    let for_one_namespace = facts
        .model
        .as_ref()
        .is_some_and(|model| model.requesting_namespace.is_some());
    if subject.is_cluster() && for_one_namespace {
        merge_pull_secrets(&[&subject.common.image_pull_secrets])
    } else {
        pull_secrets(subject, facts)
    }
}

/// The discovery Job this template should have now, if any (already existing or not).
fn wanted_discovery_job(
    observation: &TemplateObservation,
    subject: &TemplateSubject<'_>,
    facts: &TemplateFacts<'_>,
) -> Option<Job> {
    let Ok(config) = &facts.runtime_config else {
        return None;
    };
    let model = facts.model.as_ref()?;
    let discovery_open = matches!(
        facts.discovery,
        DiscoveryProgress::NoJob | DiscoveryProgress::Running { .. }
    );
    if !subject.common.model_sources.is_empty()
        || facts.missing_gpu.is_some()
        || subject.previous_status() == Some(AIMTemplateStatusEnum::Ready)
        || !discovery_open
    {
        return None;
    }
    let secrets = pull_secrets(subject, facts);
    // The template's account, else its model's, else the runtime config's: all of the namespace
    // the Job runs in.
    let service_account = subject
        .common
        .service_account_name
        .as_deref()
        .filter(|account| !account.is_empty())
        .or(model.service_account)
        .or(config.service_account_name.as_deref())
        .filter(|account| !account.is_empty());
    let namespace = subject.namespace.unwrap_or(observation.work_namespace());
    Some(discovery_job(&DiscoveryJobInput {
        template_name: subject.name,
        namespace,
        model_name: &subject.common.model_name,
        image: model.image,
        service_account,
        pull_secrets: &secrets,
        env: subject.env,
        runtime: &subject.common.runtime,
    }))
}

fn runtime_object(
    subject: &TemplateSubject<'_>,
    facts: &TemplateFacts<'_>,
    verdict: &Verdict,
) -> Result<Option<serde_json::Value>, PolicyFailure> {
    let Some(model) = &facts.model else {
        return Ok(None);
    };
    if verdict.status != AIMTemplateStatusEnum::Ready || facts.missing_gpu.is_some() {
        return Ok(None);
    }
    let selector = subject.common.runtime.gpu_selector.as_ref();
    let discovered = verdict.profile.as_ref().map_or(0, |p| p.metadata.gpu_count);
    let gpu_count = if discovered > 0 {
        discovered
    } else {
        selector.map_or(0, |s| s.count)
    };
    let secrets = runtime_pull_secrets(subject, facts);
    serving_runtime(&RuntimeInput {
        name: subject.name,
        namespace: subject.namespace,
        model_name: &subject.common.model_name,
        image: model.image,
        gpu_resource_name: selector.map_or(DEFAULT_GPU_RESOURCE_NAME, |s| s.resource_name.as_str()),
        gpu_count,
        pull_secrets: &secrets,
    })
    .map(Some)
}

/// A namespace template with caching on gets a template cache of its own name once its model
/// sources are known, unless it already owns one.
fn template_cache(
    observation: &TemplateObservation,
    subject: &TemplateSubject<'_>,
    facts: &TemplateFacts<'_>,
    verdict: &Verdict,
) -> Option<AIMTemplateCache> {
    let namespace = subject.namespace?;
    let caching = subject.caching.filter(|caching| caching.enabled)?;
    let config = facts.runtime_config.as_ref().ok()?;
    if verdict.model_sources.is_empty() {
        return None;
    }
    let owned = observation.template_caches.iter().any(|cache| {
        cache
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|owner| Some(owner.uid.as_str()) == subject.uid)
    });
    if owned {
        return None;
    }
    let mut cache = AIMTemplateCache::new(
        subject.name,
        AIMTemplateCacheSpec {
            template_ref: subject.name.to_owned(),
            env: caching.env.clone(),
            storage_class_name: config.common.default_storage_class_name.clone(),
            runtime_config_name: subject.common.runtime_config_name.clone(),
            ..AIMTemplateCacheSpec::default()
        },
    );
    cache.metadata.namespace = Some(namespace.to_owned());
    Some(cache)
}
