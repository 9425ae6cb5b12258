//! Planning for AIMModelCache: a volume sized for the model plus headroom, created once and never
//! resized, and a Job downloading into it once it can be mounted. An Available cache stays
//! Available after its Job expires.

use aim_api::conditions::{ConditionStatus, events, label_values, labels, reasons, types};
use aim_api::policy::observation::ModelCacheObservation;
use aim_api::policy::plan::{BindingModeRequest, EventType, Owner, Plan, PlannedObject};
use aim_api::v1alpha1::{
    AIMCacheStatus, AIMModelCache, AIMModelCacheStatus, DEFAULT_PVC_HEADROOM_PERCENT,
};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::PolicyFailure;
use crate::conditions::Conditions;
use crate::flows::download_job::{DownloadJobInput, download_job};
use crate::flows::job_state::{JobState, job_state};
use crate::flows::support::{
    event, label_map, merge_pull_secrets, new_plan, status_document, to_json,
};
use crate::names::sanitize_label_value;
use crate::quantity::{bytes_of, gibibytes_rounded_up};
use crate::resource_names::{model_cache_job_name, model_cache_pvc_name};
use crate::runtime_config::{EffectiveRuntimeConfig, resolve};

use ConditionStatus::{False, True, Unknown};

const WAIT_FOR_FIRST_CONSUMER: &str = "WaitForFirstConsumer";
/// When to look again while the volume binds or the download runs. Both progress outside this
/// cache, and the change that should move it on may be observed late (after the wake-up it
/// caused); without a recheck the cache would then wait for the next full resync.
pub const WAITING_RECHECK_SECONDS: u32 = 10;

/// Where the volume stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Storage<'a> {
    /// Not created yet.
    Absent,
    /// Bound to a volume.
    Bound,
    /// Waiting for a volume; `true` when binding waits for the first pod using it.
    Pending { binds_on_first_use: bool },
    /// Its volume is gone.
    Lost,
    /// A phase this flow does not know.
    Other(&'a str),
}

/// Plans one model cache.
pub fn plan_model_cache(observation: &ModelCacheObservation) -> Result<Plan, PolicyFailure> {
    let cache = &observation.model_cache;
    let name = cache.metadata.name.as_deref().unwrap_or_default();
    let namespace = cache.metadata.namespace.as_deref().unwrap_or_default();
    let config = resolve(&observation.runtime_configs, Some(namespace)).unwrap_or_default();
    let pvc_name = model_cache_pvc_name(name);
    let job_name = model_cache_job_name(name);
    let pvc = observation
        .persistent_volume_claims
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some(pvc_name.as_str()));
    let job = observation
        .jobs
        .iter()
        .find(|j| j.metadata.name.as_deref() == Some(job_name.as_str()));
    let storage = storage(pvc, observation.volume_binding_mode.as_deref());
    let job = job.map(job_state);
    let previous = cache.status.as_ref();
    let was_available = previous.is_some_and(|s| s.status == AIMCacheStatus::Available);

    let mut plan = new_plan();
    let mut size_error = None;
    if storage == Storage::Absent {
        match volume_size(cache, &config) {
            Ok(size) => {
                let claim = volume_claim(cache, name, namespace, &pvc_name, size, &config);
                plan.apply.push(PlannedObject {
                    object: to_json(&claim)?,
                    owner: Owner::Subject,
                });
            }
            Err(message) => size_error = Some(message),
        }
    }
    let storage_ready = storage == Storage::Bound;
    let ready = storage_ready && (job == Some(JobState::Succeeded) || was_available);
    let can_start_download = matches!(
        storage,
        Storage::Bound
            | Storage::Pending {
                binds_on_first_use: true
            }
    );
    if job.is_none() && can_start_download && !ready {
        let secrets =
            merge_pull_secrets(&[&cache.spec.image_pull_secrets, &config.image_pull_secrets]);
        let download = download_job(&DownloadJobInput {
            cache_name: name,
            namespace,
            source_uri: &cache.spec.source_uri,
            image: &cache.spec.model_download_image,
            env: &cache.spec.env,
            pull_secrets: &secrets,
            service_account: config
                .service_account_name
                .as_deref()
                .filter(|a| !a.is_empty()),
        });
        plan.apply.push(PlannedObject {
            object: to_json(&download)?,
            owner: Owner::Subject,
        });
    }

    if job.is_none() && !ready {
        plan.read_binding_mode = binding_mode_wanted(observation, pvc, storage);
    }

    let failure = storage == Storage::Lost || job == Some(JobState::Failed) || size_error.is_some();
    let status = if job == Some(JobState::Failed) || size_error.is_some() {
        AIMCacheStatus::Failed
    } else if ready {
        AIMCacheStatus::Available
    } else if !failure
        && (!storage_ready
            || job == Some(JobState::Running)
            || (job.is_none() && can_start_download))
    {
        AIMCacheStatus::Progressing
    } else {
        AIMCacheStatus::Pending
    };

    let mut conditions = Conditions::new(
        previous.map_or(&[][..], |s| &s.conditions[..]),
        cache.metadata.generation,
    );
    set_conditions(&mut conditions, storage, status, job, size_error.as_deref());
    let was = previous.map(|s| s.status);
    if was != Some(status) {
        match (status, &size_error) {
            (AIMCacheStatus::Available, _) => plan.events.push(event(
                EventType::Normal,
                events::CACHE_READY,
                format!("Model cache is available at PVC {pvc_name}"),
            )),
            (AIMCacheStatus::Failed, Some(message)) => plan.events.push(event(
                EventType::Warning,
                events::RECONCILE_FAILED,
                message.clone(),
            )),
            (AIMCacheStatus::Failed, None) => plan.events.push(event(
                EventType::Warning,
                events::CACHE_FAILED,
                format!("Downloading {} failed", cache.spec.source_uri),
            )),
            _ => {}
        }
    }
    let has_volume = storage != Storage::Absent || size_error.is_none();
    let document = AIMModelCacheStatus {
        observed_generation: cache.metadata.generation,
        conditions: Vec::new(),
        status,
        last_used: previous.and_then(|s| s.last_used.clone()),
        persistent_volume_claim: has_volume.then_some(pvc_name),
    };
    if matches!(
        status,
        AIMCacheStatus::Pending | AIMCacheStatus::Progressing
    ) {
        plan.requeue_after_seconds = Some(WAITING_RECHECK_SECONDS);
    }
    plan.status = Some(status_document(&document, conditions)?);
    Ok(plan)
}

/// The storage class whose binding mode this plan needs and the observation lacks: a claim still
/// waiting for its volume lets the download start at once when its class binds on first use.
/// Without it the download waits for the claim to bind, and this plan stands if the host cannot
/// read the mode either.
fn binding_mode_wanted(
    observation: &ModelCacheObservation,
    pvc: Option<&PersistentVolumeClaim>,
    storage: Storage<'_>,
) -> Option<BindingModeRequest> {
    if observation.volume_binding_mode.is_some() || !matches!(storage, Storage::Pending { .. }) {
        return None;
    }
    let storage_class = pvc?.spec.as_ref()?.storage_class_name.clone()?;
    Some(BindingModeRequest { storage_class })
}

fn storage<'a>(pvc: Option<&'a PersistentVolumeClaim>, binding_mode: Option<&str>) -> Storage<'a> {
    let Some(pvc) = pvc else {
        return Storage::Absent;
    };
    match pvc.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Bound") => Storage::Bound,
        Some("Lost") => Storage::Lost,
        None | Some("Pending") => Storage::Pending {
            binds_on_first_use: binding_mode == Some(WAIT_FOR_FIRST_CONSUMER),
        },
        Some(other) => Storage::Other(other),
    }
}

/// `spec.size` plus the runtime config's headroom, rounded up to whole GiB.
fn volume_size(cache: &AIMModelCache, config: &EffectiveRuntimeConfig) -> Result<Quantity, String> {
    let bytes = bytes_of(&cache.spec.size)
        .filter(|bytes| *bytes > 0)
        .ok_or_else(|| {
            format!(
                "spec.size {:?} is not a positive storage size",
                cache.spec.size.0
            )
        })?;
    let headroom = config
        .common
        .pvc_headroom_percent
        .unwrap_or(DEFAULT_PVC_HEADROOM_PERCENT);
    Ok(gibibytes_rounded_up(bytes, headroom))
}

fn volume_claim(
    cache: &AIMModelCache,
    name: &str,
    namespace: &str,
    pvc_name: &str,
    size: Quantity,
    config: &EffectiveRuntimeConfig,
) -> PersistentVolumeClaim {
    let source = cache
        .spec
        .source_uri
        .split_once("://")
        .map_or(cache.spec.source_uri.as_str(), |(_, rest)| rest);
    let mut claim_labels = label_map(&[
        (
            labels::APP_MANAGED_BY,
            label_values::MANAGED_BY_MODEL_CACHE_CONTROLLER,
        ),
        (labels::MODEL_CACHE, name),
        (labels::SOURCE_MODEL, &sanitize_label_value(source)),
    ]);
    let created_by_template_cache = cache
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(labels::TEMPLATE_CREATED))
        .map(String::as_str)
        == Some(label_values::TRUE);
    if created_by_template_cache {
        claim_labels.insert(
            labels::CACHE_TYPE.to_owned(),
            label_values::CACHE_TYPE_TEMPLATE_CACHE.to_owned(),
        );
    }
    let non_empty = |class: &Option<String>| class.clone().filter(|c| !c.is_empty());
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(pvc_name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: Some(claim_labels),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            // Every replica of every service using the cache mounts it.
            access_modes: Some(vec!["ReadWriteMany".to_owned()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_owned(), size)].into_iter().collect()),
                limits: None,
            }),
            // Unset means the cluster's default class.
            storage_class_name: non_empty(&cache.spec.storage_class_name)
                .or_else(|| non_empty(&config.common.default_storage_class_name)),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}

fn set_conditions(
    conditions: &mut Conditions<'_>,
    storage: Storage<'_>,
    status: AIMCacheStatus,
    job: Option<JobState>,
    size_error: Option<&str>,
) {
    match storage {
        Storage::Absent => conditions.set(
            types::STORAGE_READY,
            False,
            reasons::PVC_PENDING,
            "PVC not created yet",
        ),
        Storage::Bound => conditions.set(
            types::STORAGE_READY,
            True,
            reasons::PVC_BOUND,
            "PVC is bound",
        ),
        Storage::Pending { .. } => conditions.set(
            types::STORAGE_READY,
            False,
            reasons::PVC_PROVISIONING,
            "PVC is being provisioned",
        ),
        Storage::Lost => conditions.set(
            types::STORAGE_READY,
            False,
            reasons::PVC_LOST,
            "PVC lost its volume",
        ),
        Storage::Other(phase) => conditions.set(
            types::STORAGE_READY,
            Unknown,
            phase,
            format!("PVC phase is {phase}"),
        ),
    }
    let waiting_reason = if storage == Storage::Bound {
        reasons::DOWNLOADING
    } else {
        reasons::WAITING_FOR_PVC
    };
    match status {
        AIMCacheStatus::Available => {
            conditions.set(
                types::READY,
                True,
                reasons::WARM,
                "Model cache is available",
            );
            conditions.set(
                types::PROGRESSING,
                False,
                reasons::WARM,
                "Model cache is available",
            );
        }
        AIMCacheStatus::Failed => {
            conditions.set(
                types::READY,
                False,
                waiting_reason,
                "Model cache is not available",
            );
            conditions.set(
                types::PROGRESSING,
                False,
                reasons::RETRY_BACKOFF,
                "Retrying once the failed download job expires",
            );
        }
        AIMCacheStatus::Progressing => {
            let message = if storage == Storage::Bound {
                "Downloading the model"
            } else {
                "Waiting for the PVC"
            };
            conditions.set(types::READY, False, waiting_reason, message);
            conditions.set(types::PROGRESSING, True, waiting_reason, message);
        }
        AIMCacheStatus::Pending => {
            conditions.set(
                types::READY,
                False,
                waiting_reason,
                "Model cache is not available",
            );
            conditions.set(
                types::PROGRESSING,
                False,
                waiting_reason,
                "Model cache is not available",
            );
        }
    }
    match (size_error, storage, job) {
        (Some(message), _, _) => conditions.set(types::FAILURE, True, reasons::FAILED, message),
        (None, Storage::Lost, _) => conditions.set(
            types::FAILURE,
            True,
            reasons::PVC_LOST,
            "PVC lost its volume",
        ),
        (None, _, Some(JobState::Failed)) => conditions.set(
            types::FAILURE,
            True,
            reasons::DOWNLOAD_FAILED,
            "Download job failed",
        ),
        _ => conditions.set(types::FAILURE, False, reasons::NO_FAILURE, "No failure"),
    }
}
