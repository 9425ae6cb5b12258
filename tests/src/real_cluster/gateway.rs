//! Traefik as the cluster's Gateway API implementation: its Kubernetes Gateway provider writes the
//! status of GatewayClasses, Gateways and HTTPRoutes (Accepted, ResolvedRefs, with Gateway API's
//! reasons), and its proxy serves the Gateways' listeners on loopback, forwarding to the pods of the
//! routes' backend Services (from their EndpointSlices).
//!
//! Traefik maps a Gateway listener to the entry point with the listener's port, so each Gateway here
//! has a listener on the port of an entry point of its own.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use serde_json::{Value, json};

use crate::control_plane::{ControlPlane, free_ports};
use crate::paths;
use crate::process::tail;

/// Namespace of the cluster's Gateways.
pub const GATEWAY_NAMESPACE: &str = "gateways";
/// The Gateway whose listener takes HTTPRoutes from every namespace (the name of the AIMService
/// guide's examples).
pub const OPEN_GATEWAY: &str = "inference-gateway";
/// The Gateway whose listener takes only HTTPRoutes of [`GATEWAY_NAMESPACE`].
pub const SAME_NAMESPACE_GATEWAY: &str = "team-gateway";
/// Traefik's controller name.
pub const CONTROLLER_NAME: &str = "traefik.io/gateway-controller";
const GATEWAY_CLASS: &str = "traefik";
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Starts Traefik, creates the GatewayClass and the two Gateways, and waits until Traefik accepted
/// both. Returns the port of [`OPEN_GATEWAY`]'s listener.
pub async fn start(cp: &mut ControlPlane, client: &Client) -> Result<u16> {
    let [open_port, same_namespace_port] = free_ports()?;
    let kubeconfig = cp.kubeconfig().display().to_string();
    cp.spawn(
        "traefik",
        &paths::traefik_binary()?,
        &[
            format!("--entryPoints.open.address=127.0.0.1:{open_port}"),
            format!("--entryPoints.samens.address=127.0.0.1:{same_namespace_port}"),
            "--providers.kubernetesGateway=true".into(),
            // The address written into the Gateways' status.
            "--providers.kubernetesGateway.statusAddress.ip=127.0.0.1".into(),
            "--log.level=DEBUG".into(),
            "--global.checkNewVersion=false".into(),
            "--global.sendAnonymousUsage=false".into(),
        ],
        &[("KUBECONFIG", &kubeconfig)],
    )?;

    let apply = PatchParams::apply("aim-testenv").force();
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone());
    let namespace: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(json!({"metadata": {"name": GATEWAY_NAMESPACE}}))?;
    namespaces
        .patch(GATEWAY_NAMESPACE, &apply, &Patch::Apply(&namespace))
        .await
        .context("creating the Gateways' namespace")?;
    let class = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass",
        "metadata": {"name": GATEWAY_CLASS}, "spec": {"controllerName": CONTROLLER_NAME},
    });
    api(client, "GatewayClass", None)
        .patch(GATEWAY_CLASS, &apply, &Patch::Apply(&class))
        .await
        .context("creating the GatewayClass")?;
    let gateways = api(client, "Gateway", Some(GATEWAY_NAMESPACE));
    for (name, port, from) in [
        (OPEN_GATEWAY, open_port, "All"),
        (SAME_NAMESPACE_GATEWAY, same_namespace_port, "Same"),
    ] {
        let gateway = json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": name, "namespace": GATEWAY_NAMESPACE},
            "spec": {
                "gatewayClassName": GATEWAY_CLASS,
                "listeners": [{
                    "name": "http", "port": port, "protocol": "HTTP",
                    "allowedRoutes": {"namespaces": {"from": from}},
                }],
            },
        });
        gateways
            .patch(name, &apply, &Patch::Apply(&gateway))
            .await
            .with_context(|| format!("creating Gateway {name}"))?;
    }
    for name in [OPEN_GATEWAY, SAME_NAMESPACE_GATEWAY] {
        wait_accepted(cp, &gateways, name).await?;
    }
    Ok(open_port)
}

/// A dynamic Api for a `gateway.networking.k8s.io/v1` kind.
fn api(client: &Client, kind: &str, namespace: Option<&str>) -> Api<DynamicObject> {
    let resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "gateway.networking.k8s.io",
        "v1",
        kind,
    ));
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    }
}

async fn wait_accepted(
    cp: &mut ControlPlane,
    gateways: &Api<DynamicObject>,
    name: &str,
) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        cp.check_running()?;
        let gateway = gateways.get(name).await?;
        let accepted = gateway.data["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Accepted" && c["status"] == "True");
        if accepted {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "Traefik did not accept Gateway {name} in {READY_TIMEOUT:?}; its status: {}\nend of \
                 Traefik's log:\n{}",
                gateway.data.get("status").unwrap_or(&Value::Null),
                tail(&cp.dir().join("traefik.log"))
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
