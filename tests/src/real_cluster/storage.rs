//! Storage for the real-components cluster: a default StorageClass and the external provisioner
//! it names, played here (no CSI driver runs). The provisioner does what a real one does through the
//! API: for each claim the PersistentVolume binder hands it (annotation
//! `volume.kubernetes.io/storage-provisioner`), it creates a volume pre-bound to the claim, which the
//! binder then binds; it deletes its released volumes. Binding itself, and the scheduler's checks of
//! bound claims, are the real controllers'.

use std::time::Duration;

use anyhow::{Context, Result};
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::StorageClass;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt as _};
use serde_json::json;

/// The cluster's default StorageClass.
pub const STORAGE_CLASS: &str = "testenv-local";
/// The provisioner it names (played by [`start_provisioner`]).
const PROVISIONER: &str = "testenv.aim.silogen.ai/local";
const PROVISIONER_ANNOTATION: &str = "volume.kubernetes.io/storage-provisioner";
const PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
const POLL: Duration = Duration::from_millis(200);

/// Creates the default StorageClass and starts provisioning for it on the caller's runtime.
pub async fn start_provisioner(client: Client) -> Result<()> {
    let class: StorageClass = serde_json::from_value(json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {"storageclass.kubernetes.io/is-default-class": "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }))?;
    Api::<StorageClass>::all(client.clone())
        .patch(
            STORAGE_CLASS,
            &PatchParams::apply("aim-testenv").force(),
            &Patch::Apply(&class),
        )
        .await
        .context("creating the default StorageClass")?;
    tokio::spawn(async move {
        loop {
            if let Err(e) = provision(&client).await {
                tracing::warn!("test storage provisioner: {e:#}");
            }
            tokio::time::sleep(POLL).await;
        }
    });
    Ok(())
}

/// One pass: a volume for every claim handed to us without one, and away with released volumes.
async fn provision(client: &Client) -> Result<()> {
    let claims = Api::<PersistentVolumeClaim>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items;
    let volumes: Api<PersistentVolume> = Api::all(client.clone());
    for claim in claims {
        let ours = claim
            .annotations()
            .get(PROVISIONER_ANNOTATION)
            .map(String::as_str)
            == Some(PROVISIONER);
        let spec = claim.spec.clone().unwrap_or_default();
        if !ours || spec.volume_name.is_some() || claim.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let uid = claim.uid().unwrap_or_default();
        let name = format!("pvc-{uid}");
        if volumes.get_opt(&name).await?.is_some() {
            continue;
        }
        let size = spec
            .resources
            .as_ref()
            .and_then(|r| r.requests.as_ref())
            .and_then(|r| r.get("storage").cloned());
        let volume: PersistentVolume = serde_json::from_value(json!({
            "metadata": {"name": name, "annotations": {PROVISIONED_BY: PROVISIONER}},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": spec.access_modes,
                "persistentVolumeReclaimPolicy": "Delete",
                "storageClassName": STORAGE_CLASS,
                "volumeMode": spec.volume_mode,
                // Never mounted: no kubelet runs pods here.
                "hostPath": {"path": format!("/var/lib/aim-testenv/{uid}")},
                "claimRef": {
                    "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "namespace": claim.namespace(), "name": claim.name_any(), "uid": uid,
                },
            },
        }))?;
        volumes
            .create(&PostParams::default(), &volume)
            .await
            .with_context(|| format!("creating volume {name}"))?;
    }
    for volume in volumes.list(&ListParams::default()).await?.items {
        let ours =
            volume.annotations().get(PROVISIONED_BY).map(String::as_str) == Some(PROVISIONER);
        let phase = volume.status.as_ref().and_then(|s| s.phase.as_deref());
        if ours && phase == Some("Released") && volume.metadata.deletion_timestamp.is_none() {
            volumes
                .delete(&volume.name_any(), &DeleteParams::default())
                .await?;
        }
    }
    Ok(())
}
