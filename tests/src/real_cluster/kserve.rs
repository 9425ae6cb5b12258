//! The KServe controller manager, as KServe's own install sets it up, in RawDeployment mode: its
//! `inferenceservice-config` ConfigMap in namespace `kserve` (deployment mode RawDeployment, no
//! Istio, no Ingress: routing is the operator's HTTPRoute), and its webhooks (InferenceService
//! defaulting and validation, ServingRuntime validation, the pod mutator, ...) registered from KServe's
//! own manifests, rewritten to call the manager on loopback (`clientConfig.url`, trusted through the
//! control plane's CA). So every InferenceService and ServingRuntime the operator writes passes
//! KServe's own checks, and KServe computes their readiness from the Deployments it creates.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use base64::Engine as _;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams};
use kube::{Client, ResourceExt as _};
use serde::Deserialize as _;
use serde_json::{Value, json};

use crate::control_plane::{ControlPlane, free_ports};
use crate::paths;
use crate::process::tail;

/// KServe's namespace (its default `POD_NAMESPACE`).
pub const NAMESPACE: &str = "kserve";
const CONFIG_MAP: &str = "inferenceservice-config";
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const FIELD_MANAGER: &str = "aim-testenv";

/// Installs KServe's settings and webhooks and starts its controller manager; returns once its
/// webhook server answers.
pub async fn start(cp: &mut ControlPlane, client: &Client) -> Result<()> {
    let binary = paths::kserve_binary()?;
    let config = paths::kserve_config_dir()?;
    let [webhook_port, probe_port] = free_ports()?;

    let namespace: Namespace = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    Api::<Namespace>::all(client.clone())
        .patch(NAMESPACE, &apply, &Patch::Apply(&namespace))
        .await
        .context("creating namespace kserve")?;
    let settings = raw_deployment_settings(&config.join("inferenceservice.yaml"))?;
    Api::<ConfigMap>::namespaced(client.clone(), NAMESPACE)
        .patch(CONFIG_MAP, &apply, &Patch::Apply(&settings))
        .await
        .context("applying KServe's inferenceservice-config")?;
    let ca = std::fs::read(&cp.pki().ca_cert).context("reading the CA")?;
    register_webhooks(
        client,
        &config.join("manifests.yaml"),
        &format!("https://127.0.0.1:{webhook_port}"),
        &ca,
    )
    .await?;

    // controller-runtime reads its serving cert from $TMPDIR/k8s-webhook-server/serving-certs.
    let tmp = cp.dir().join("kserve-tmp");
    let certs = tmp.join("k8s-webhook-server/serving-certs");
    std::fs::create_dir_all(&certs)?;
    let pki = cp.pki();
    std::fs::copy(&pki.webhook_cert, certs.join("tls.crt"))?;
    std::fs::copy(&pki.webhook_key, certs.join("tls.key"))?;
    let kubeconfig = cp.kubeconfig().display().to_string();
    let tmp = tmp.display().to_string();
    cp.spawn(
        "kserve",
        &binary,
        &[
            format!("--webhook-port={webhook_port}"),
            format!("--health-probe-addr=127.0.0.1:{probe_port}"),
            // No metrics listener: nothing scrapes it here.
            "--metrics-addr=0".into(),
            "--leader-elect=false".into(),
        ],
        &[
            ("KUBECONFIG", &kubeconfig),
            ("POD_NAMESPACE", NAMESPACE),
            ("TMPDIR", &tmp),
        ],
    )?;
    wait_ready(cp, probe_port).await
}

/// KServe's ConfigMap with RawDeployment as the default mode, Istio off and Ingress creation off.
fn raw_deployment_settings(path: &Path) -> Result<ConfigMap> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut config: ConfigMap =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let data = config.data.get_or_insert_default();
    let ingress = data
        .get("ingress")
        .context("KServe's ConfigMap has no ingress settings")?;
    let mut ingress: Value =
        serde_json::from_str(ingress).context("parsing KServe's ingress settings")?;
    ingress["disableIstioVirtualHost"] = json!(true);
    ingress["disableIngressCreation"] = json!(true);
    data.insert("ingress".into(), ingress.to_string());
    data.insert(
        "deploy".into(),
        json!({"defaultDeploymentMode": "RawDeployment"}).to_string(),
    );
    config.metadata.namespace = Some(NAMESPACE.into());
    Ok(config)
}

/// Applies every webhook configuration of KServe's manifests with its service reference replaced
/// by `base` + the service's path.
async fn register_webhooks(client: &Client, path: &Path, base: &str, ca: &[u8]) -> Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(ca);
    let apply = PatchParams::apply(FIELD_MANAGER).force();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let mut value =
            Value::deserialize(doc).with_context(|| format!("parsing {}", path.display()))?;
        if value.is_null() {
            continue;
        }
        for webhook in value["webhooks"].as_array_mut().into_iter().flatten() {
            let service_path = webhook["clientConfig"]["service"]["path"]
                .as_str()
                .context("a KServe webhook without a service path")?
                .to_owned();
            webhook["clientConfig"] =
                json!({"url": format!("{base}{service_path}"), "caBundle": ca_bundle});
        }
        match value["kind"].as_str() {
            Some("MutatingWebhookConfiguration") => {
                let config: MutatingWebhookConfiguration = serde_json::from_value(value)?;
                Api::<MutatingWebhookConfiguration>::all(client.clone())
                    .patch(&config.name_any(), &apply, &Patch::Apply(&config))
                    .await
                    .with_context(|| format!("registering {}", config.name_any()))?;
            }
            Some("ValidatingWebhookConfiguration") => {
                let config: ValidatingWebhookConfiguration = serde_json::from_value(value)?;
                Api::<ValidatingWebhookConfiguration>::all(client.clone())
                    .patch(&config.name_any(), &apply, &Patch::Apply(&config))
                    .await
                    .with_context(|| format!("registering {}", config.name_any()))?;
            }
            other => bail!("unexpected kind {other:?} in {}", path.display()),
        }
    }
    Ok(())
}

/// KServe's readiness check passes once its webhook server serves.
async fn wait_ready(cp: &mut ControlPlane, probe_port: u16) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    let url = format!("http://127.0.0.1:{probe_port}/readyz");
    let http = reqwest::Client::new();
    loop {
        cp.check_running()?;
        if let Ok(response) = http.get(&url).send().await
            && response.status().is_success()
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "KServe not ready after {READY_TIMEOUT:?}; end of its log:\n{}",
                tail(&cp.dir().join("kserve.log"))
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
