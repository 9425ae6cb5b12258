//! The discovery Job of a template: the model image run with `dry-run --format=json`, locked down,
//! with the template's parameters as `AIM_*` variables. Its name hashes everything that shapes the
//! run, so any change of those starts a new Job.

use aim_api::conditions::{label_values, labels};
use aim_api::v1alpha1::AIMRuntimeParameters;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, LocalObjectReference, PodSpec, PodTemplateSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::flows::support::label_map;
use crate::pod_security::{NON_ROOT_USER, restricted_container, restricted_pod};
use crate::resource_names::{DiscoveryJobKey, discovery_job_name};
use crate::template_profile::enum_text;

const BACKOFF_LIMIT: i32 = 3;
const TTL_SECONDS_AFTER_FINISHED: i32 = 60;
/// Longest a discovery Job may run, image pull included: a dry run takes seconds, but pulling a
/// large AIM image can take many minutes. A Job that never finishes would hold one of the
/// cluster's discovery slots for good.
pub const ACTIVE_DEADLINE_SECONDS: i64 = 3600;
const CONTAINER_NAME: &str = "discovery";

/// Everything a discovery Job is made from.
#[derive(Debug, Clone)]
pub struct DiscoveryJobInput<'a> {
    /// The template being discovered.
    pub template_name: &'a str,
    /// Where the Job runs: the template's namespace, or the operator's for cluster templates.
    pub namespace: &'a str,
    /// `spec.modelName` of the template.
    pub model_name: &'a str,
    /// The model's image.
    pub image: &'a str,
    /// Service account of the pod, if any.
    pub service_account: Option<&'a str>,
    /// Pull secrets of the pod.
    pub pull_secrets: &'a [LocalObjectReference],
    /// Extra environment (namespace templates only).
    pub env: &'a [EnvVar],
    /// Metric, precision and GPUs of the template.
    pub runtime: &'a AIMRuntimeParameters,
}

impl DiscoveryJobInput<'_> {
    fn metric(&self) -> String {
        self.runtime
            .metric
            .map(|m| enum_text(&m))
            .unwrap_or_default()
    }

    fn precision(&self) -> String {
        self.runtime
            .precision
            .map(|p| enum_text(&p))
            .unwrap_or_default()
    }

    fn gpu(&self) -> (&str, i32) {
        self.runtime
            .gpu_selector
            .as_ref()
            .map_or(("", 0), |gpu| (gpu.model.as_str(), gpu.count))
    }

    /// The Job's name.
    pub fn job_name(&self) -> String {
        let (metric, precision) = (self.metric(), self.precision());
        let (gpu_model, gpu_count) = self.gpu();
        let key = DiscoveryJobKey {
            model_name: self.model_name,
            image: self.image,
            service_account: self.service_account.unwrap_or_default(),
            env: self
                .env
                .iter()
                .map(|var| (var.name.as_str(), var.value.as_deref().unwrap_or_default()))
                .collect(),
            pull_secrets: self.pull_secrets.iter().map(|s| s.name.as_str()).collect(),
            metric: &metric,
            precision: &precision,
            gpu_model,
            gpu_count,
        };
        discovery_job_name(self.template_name, &key)
    }

    fn environment(&self) -> Vec<EnvVar> {
        let mut env = vec![
            env_var("AIM_LOG_LEVEL_ROOT", "CRITICAL"),
            env_var("AIM_LOG_LEVEL", "CRITICAL"),
        ];
        env.extend(self.env.iter().cloned());
        let (gpu_model, gpu_count) = self.gpu();
        let count = if gpu_count > 0 {
            gpu_count.to_string()
        } else {
            String::new()
        };
        for (name, value) in [
            ("AIM_METRIC", self.metric()),
            ("AIM_PRECISION", self.precision()),
            ("AIM_GPU_MODEL", gpu_model.to_owned()),
            ("AIM_GPU_COUNT", count),
        ] {
            if !value.is_empty() {
                env.push(env_var(name, &value));
            }
        }
        env
    }
}

/// The discovery Job.
pub fn discovery_job(input: &DiscoveryJobInput<'_>) -> Job {
    let job_labels = label_map(&[
        (labels::APP_NAME, label_values::NAME_DISCOVERY),
        (labels::APP_COMPONENT, label_values::COMPONENT_DISCOVERY_JOB),
        (
            labels::APP_MANAGED_BY,
            label_values::MANAGED_BY_AIM_CONTROLLER,
        ),
        (labels::TEMPLATE, input.template_name),
    ]);
    let container = Container {
        name: CONTAINER_NAME.to_owned(),
        image: Some(input.image.to_owned()),
        // The image's own entrypoint stays; only its arguments ask for a dry run.
        args: Some(vec!["dry-run".to_owned(), "--format=json".to_owned()]),
        env: Some(input.environment()),
        security_context: Some(restricted_container()),
        ..Container::default()
    };
    let pod = PodSpec {
        restart_policy: Some("Never".to_owned()),
        image_pull_secrets: (!input.pull_secrets.is_empty()).then(|| input.pull_secrets.to_vec()),
        service_account_name: input.service_account.map(str::to_owned),
        // The dry run talks to no apiserver; a token in an image anyone may name is a token to
        // steal.
        automount_service_account_token: Some(false),
        security_context: Some(restricted_pod(NON_ROOT_USER)),
        containers: vec![container],
        ..PodSpec::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(input.job_name()),
            namespace: Some(input.namespace.to_owned()),
            labels: Some(job_labels),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(BACKOFF_LIMIT),
            active_deadline_seconds: Some(ACTIVE_DEADLINE_SECONDS),
            ttl_seconds_after_finished: Some(TTL_SECONDS_AFTER_FINISHED),
            template: PodTemplateSpec {
                metadata: None,
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        status: None,
    }
}

fn env_var(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        value_from: None,
    }
}

#[cfg(test)]
mod tests {
    use aim_api::v1alpha1::{AIMGpuSelector, AIMMetric, AIMPrecision};

    use super::*;

    fn runtime() -> AIMRuntimeParameters {
        AIMRuntimeParameters {
            metric: Some(AIMMetric::Latency),
            precision: Some(AIMPrecision::Fp8),
            gpu_selector: Some(AIMGpuSelector {
                count: 1,
                model: "MI300X".to_owned(),
                resource_name: "amd.com/gpu".to_owned(),
            }),
        }
    }

    fn input<'a>(runtime: &'a AIMRuntimeParameters, env: &'a [EnvVar]) -> DiscoveryJobInput<'a> {
        DiscoveryJobInput {
            template_name: "tpl",
            namespace: "ml",
            model_name: "model",
            image: "ghcr.io/x/aim:1",
            service_account: Some("runner"),
            pull_secrets: &[],
            env,
            runtime,
        }
    }

    #[test]
    fn the_job_runs_a_locked_down_dry_run_of_the_image() {
        let runtime = runtime();
        let job = serde_json::to_value(discovery_job(&input(&runtime, &[]))).unwrap();
        assert_eq!(job["apiVersion"], "batch/v1");
        assert_eq!(job["kind"], "Job");
        assert_eq!(job["metadata"]["labels"]["aim.silogen.ai/template"], "tpl");
        assert_eq!(
            job["metadata"]["labels"]["app.kubernetes.io/component"],
            "discovery-job"
        );
        assert_eq!(job["spec"]["backoffLimit"], 3);
        assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 60);
        assert_eq!(job["spec"]["activeDeadlineSeconds"], 3600);
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["serviceAccountName"], "runner");
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(pod["securityContext"]["runAsUser"], 65532);
        assert_eq!(
            pod["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let container = &pod["containers"][0];
        assert_eq!(container["name"], "discovery");
        assert_eq!(
            container["args"],
            serde_json::json!(["dry-run", "--format=json"])
        );
        assert!(container.get("command").is_none());
        assert_eq!(
            container["securityContext"]["capabilities"]["drop"][0],
            "ALL"
        );
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"],
            false
        );
    }

    #[test]
    fn the_environment_quietens_logs_then_adds_template_env_then_parameters() {
        let runtime = runtime();
        let env = [env_var("HF_TOKEN", "t")];
        let names: Vec<String> = input(&runtime, &env)
            .environment()
            .into_iter()
            .map(|var| format!("{}={}", var.name, var.value.unwrap_or_default()))
            .collect();
        assert_eq!(
            names,
            [
                "AIM_LOG_LEVEL_ROOT=CRITICAL",
                "AIM_LOG_LEVEL=CRITICAL",
                "HF_TOKEN=t",
                "AIM_METRIC=latency",
                "AIM_PRECISION=fp8",
                "AIM_GPU_MODEL=MI300X",
                "AIM_GPU_COUNT=1",
            ]
        );
    }

    #[test]
    fn unset_parameters_are_left_out_of_the_environment() {
        let runtime = AIMRuntimeParameters::default();
        assert_eq!(input(&runtime, &[]).environment().len(), 2);
    }

    #[test]
    fn the_job_name_changes_with_the_environment() {
        let runtime = runtime();
        let env = [env_var("HF_TOKEN", "t")];
        let plain = input(&runtime, &[]).job_name();
        assert!(plain.starts_with("discover-tpl-"), "{plain}");
        assert_ne!(plain, input(&runtime, &env).job_name());
    }
}
