//! The Job that downloads a model cache's files into its volume, with KServe's storage initializer,
//! as an unprivileged user, then trims the download caches it leaves behind.

use aim_api::conditions::{label_values, labels};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, LocalObjectReference,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, PodTemplateSpec, Volume,
    VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::flows::support::label_map;
use crate::pod_security::{restricted_container, restricted_pod};
use crate::resource_names::{model_cache_job_name, model_cache_pvc_name};

const BACKOFF_LIMIT: i32 = 2;
const TTL_SECONDS_AFTER_FINISHED: i32 = 600;
/// Longest a download may run: a day covers the largest models on a slow link, and a Job stuck
/// past it is failed instead of holding its volume and node for good.
pub const ACTIVE_DEADLINE_SECONDS: i64 = 86_400;
const DOWNLOAD_USER: i64 = 1000;
const CACHE_MOUNT: &str = "/cache";
const TMP_SIZE: &str = "500Mi";

/// Everything a download Job is made from.
#[derive(Debug, Clone)]
pub struct DownloadJobInput<'a> {
    /// The model cache's name.
    pub cache_name: &'a str,
    pub namespace: &'a str,
    /// `hf://…` or `s3://…`.
    pub source_uri: &'a str,
    /// Image of the downloader.
    pub image: &'a str,
    /// The model cache's environment (e.g. HF_TOKEN).
    pub env: &'a [EnvVar],
    pub pull_secrets: &'a [LocalObjectReference],
    pub service_account: Option<&'a str>,
}

/// The download Job.
pub fn download_job(input: &DownloadJobInput<'_>) -> Job {
    let mut env = input.env.to_vec();
    for (name, value) in [
        ("HF_HUB_DISABLE_XET", "1"),
        ("HF_HOME", "/cache/.hf"),
        ("UMASK", "0022"),
    ] {
        env.push(EnvVar {
            name: name.to_owned(),
            value: Some(value.to_owned()),
            value_from: None,
        });
    }
    let container = Container {
        name: "model-download".to_owned(),
        image: Some(input.image.to_owned()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec![
            "/bin/sh".to_owned(),
            "-c".to_owned(),
            download_script(input.source_uri),
        ]),
        env: Some(env),
        volume_mounts: Some(vec![
            VolumeMount {
                name: "cache".to_owned(),
                mount_path: CACHE_MOUNT.to_owned(),
                ..VolumeMount::default()
            },
            VolumeMount {
                name: "tmp".to_owned(),
                mount_path: "/tmp".to_owned(),
                ..VolumeMount::default()
            },
        ]),
        security_context: Some(restricted_container()),
        ..Container::default()
    };
    let pod = PodSpec {
        restart_policy: Some("Never".to_owned()),
        service_account_name: input.service_account.map(str::to_owned),
        // Downloads read their credentials from the environment, never from the apiserver.
        automount_service_account_token: Some(false),
        image_pull_secrets: (!input.pull_secrets.is_empty()).then(|| input.pull_secrets.to_vec()),
        security_context: Some(PodSecurityContext {
            run_as_group: Some(DOWNLOAD_USER),
            fs_group: Some(DOWNLOAD_USER),
            ..restricted_pod(DOWNLOAD_USER)
        }),
        volumes: Some(vec![
            Volume {
                name: "cache".to_owned(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: model_cache_pvc_name(input.cache_name),
                    read_only: None,
                }),
                ..Volume::default()
            },
            Volume {
                name: "tmp".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource {
                    medium: None,
                    size_limit: Some(Quantity(TMP_SIZE.to_owned())),
                }),
                ..Volume::default()
            },
        ]),
        containers: vec![container],
        ..PodSpec::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(model_cache_job_name(input.cache_name)),
            namespace: Some(input.namespace.to_owned()),
            labels: Some(label_map(&[
                (
                    labels::APP_MANAGED_BY,
                    label_values::MANAGED_BY_MODEL_CACHE_CONTROLLER,
                ),
                (labels::MODEL_CACHE, input.cache_name),
            ])),
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

/// Downloads into the volume root, then drops the Hugging Face transfer caches so the volume
/// holds only the model, and prints the sizes for the log.
fn download_script(source_uri: &str) -> String {
    format!(
        "python /storage-initializer/scripts/initializer-entrypoint {} {CACHE_MOUNT} && \
         (rm -rf /cache/.hf/xet/*/chunk-cache /cache/.hf/xet/*/staging; du -sh /cache; du -sh /cache/.hf)",
        shell_word(source_uri)
    )
}

/// The URI as one shell word. Ordinary URIs are written as they are; anything with characters the
/// shell would interpret is single-quoted, so a crafted URI cannot run commands.
fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/:._-@+=%,~".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(source_uri: &str) -> DownloadJobInput<'_> {
        DownloadJobInput {
            cache_name: "smol",
            namespace: "ml",
            source_uri,
            image: "kserve/storage-initializer:v0.16.0-rc0",
            env: &[],
            pull_secrets: &[],
            service_account: None,
        }
    }

    #[test]
    fn the_job_downloads_into_the_cache_volume_as_an_unprivileged_user() {
        let job =
            serde_json::to_value(download_job(&input("hf://HuggingFaceTB/SmolLM2-135M"))).unwrap();
        assert_eq!(job["metadata"]["name"], "smol-cache-download");
        assert_eq!(
            job["metadata"]["labels"]["aim.silogen.ai/modelcache"],
            "smol"
        );
        assert_eq!(
            job["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "modelcache-controller"
        );
        assert_eq!(job["spec"]["backoffLimit"], 2);
        assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 600);
        assert_eq!(job["spec"]["activeDeadlineSeconds"], 86_400);
        let pod = &job["spec"]["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        assert_eq!(pod["automountServiceAccountToken"], false);
        assert_eq!(
            pod["securityContext"],
            serde_json::json!({"fsGroup": 1000, "runAsGroup": 1000, "runAsNonRoot": true, "runAsUser": 1000,
                               "seccompProfile": {"type": "RuntimeDefault"}})
        );
        assert_eq!(
            pod["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "smol-cache"
        );
        assert_eq!(pod["volumes"][1]["emptyDir"]["sizeLimit"], "500Mi");
        let container = &pod["containers"][0];
        assert_eq!(container["name"], "model-download");
        assert_eq!(
            container["securityContext"]["allowPrivilegeEscalation"],
            false
        );
        assert_eq!(
            container["securityContext"]["capabilities"]["drop"],
            serde_json::json!(["ALL"])
        );
        assert_eq!(container["imagePullPolicy"], "IfNotPresent");
        assert_eq!(
            container["command"][2],
            "python /storage-initializer/scripts/initializer-entrypoint hf://HuggingFaceTB/SmolLM2-135M /cache && \
             (rm -rf /cache/.hf/xet/*/chunk-cache /cache/.hf/xet/*/staging; du -sh /cache; du -sh /cache/.hf)"
        );
        let env: Vec<&str> = container["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(env, ["HF_HUB_DISABLE_XET", "HF_HOME", "UMASK"]);
    }

    #[test]
    fn a_uri_with_shell_syntax_is_quoted() {
        assert_eq!(shell_word("hf://a/b;rm -rf /"), "'hf://a/b;rm -rf /'");
        assert_eq!(shell_word("s3://x/it's"), r"'s3://x/it'\''s'");
        assert_eq!(shell_word("s3://bucket/model-1.0"), "s3://bucket/model-1.0");
    }
}
