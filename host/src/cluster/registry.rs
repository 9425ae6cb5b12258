//! Registry reads: image label inspection (an image's `config.Labels`, for the model policy) and
//! policy components published as OCI artifacts. Errors are classified by what the registry
//! answered (status code or OCI error code, never message text).
//!
//! Image references come from whoever writes an AIMService or a model, so every read is bounded
//! ([`session`] has the protocol): one overall timeout per read, size caps enforced while reading,
//! digests checked, error text cut to one clean line of at most [`MAX_MESSAGE_BYTES`] before it
//! can reach a status, and loopback, link-local and private addresses refused unless the admin
//! allows them ([`address`]). HTTPS everywhere, except allowed registries on the loopback interface,
//! which are read over plain HTTP: that is where local and test registries run.

mod address;
mod credentials;
mod session;

use std::collections::BTreeMap;
use std::time::Duration;

use aim_api::policy::observation::{ImageInspection, RegistryError, RegistryErrorKind};
use oci_client::Reference;

pub use credentials::{RegistryCredential, credentials_from_secret};
use session::Session;

/// Longest a whole read may take (every request of it, auth and redirects included), unless the
/// admin sets another (`--registry-timeout-seconds`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Largest manifest read: the OCI distribution spec lets registries refuse larger ones.
pub const MAX_MANIFEST_BYTES: u64 = 4 << 20;
/// Largest image config read; real ones, history included, are tens of KiB.
pub const MAX_CONFIG_BYTES: u64 = 4 << 20;
/// Longest registry error text passed on to a status.
pub const MAX_MESSAGE_BYTES: usize = 512;

/// What registry reads may reach and how long they may take; the admin's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryAccess {
    /// Read registries on loopback, link-local and private addresses too (`--registry-allow-private-networks`).
    pub allow_private_networks: bool,
    /// The longest one read may take, start to end.
    pub timeout: Duration,
}

impl Default for RegistryAccess {
    fn default() -> Self {
        RegistryAccess {
            allow_private_networks: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A registry error with its message made fit for a status.
fn registry_error(kind: RegistryErrorKind, message: impl AsRef<str>) -> RegistryError {
    RegistryError {
        kind,
        message: crate::text::sanitize(message.as_ref(), MAX_MESSAGE_BYTES),
    }
}

/// Reads the labels of `image`, authenticating with the first of `credentials` for its registry.
pub async fn inspect_image(
    image: &str,
    credentials: &[RegistryCredential],
    access: &RegistryAccess,
) -> ImageInspection {
    let result = within(access, fetch_labels(image, credentials, access)).await;
    ImageInspection {
        image: image.to_owned(),
        labels: result.as_ref().ok().cloned(),
        error: result.err(),
    }
}

/// `read`, failing when it takes longer than the access allows.
async fn within<T>(
    access: &RegistryAccess,
    read: impl Future<Output = Result<T, RegistryError>>,
) -> Result<T, RegistryError> {
    tokio::time::timeout(access.timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(registry_error(
                RegistryErrorKind::Other,
                format!(
                    "the registry did not finish answering within {} s",
                    access.timeout.as_secs_f64()
                ),
            ))
        })
}

/// A parsed reference and a session with its registry.
fn open<'a>(
    image: &str,
    credentials: &'a [RegistryCredential],
    access: &RegistryAccess,
) -> Result<(Reference, Session<'a>), RegistryError> {
    let reference: Reference = image.parse().map_err(|e| {
        registry_error(
            RegistryErrorKind::Other,
            format!("invalid image reference {image:?}: {e}"),
        )
    })?;
    let credential = credentials::for_registry(credentials, reference.registry());
    let session = Session::open(
        reference.resolve_registry(),
        reference.repository(),
        credential,
        access.allow_private_networks,
    )?;
    Ok((reference, session))
}

async fn fetch_labels(
    image: &str,
    credentials: &[RegistryCredential],
    access: &RegistryAccess,
) -> Result<BTreeMap<String, String>, RegistryError> {
    let (reference, mut session) = open(image, credentials, access)?;
    let manifest = image_manifest(&mut session, &reference).await?;
    let config = manifest.config.ok_or_else(|| {
        registry_error(
            RegistryErrorKind::Other,
            format!("the manifest of {image} has no config"),
        )
    })?;
    let bytes = session
        .blob(&config.digest, MAX_CONFIG_BYTES, "image config")
        .await?;
    labels(&bytes).map_err(|message| registry_error(RegistryErrorKind::Other, message))
}

/// Layer media types of a WebAssembly component artifact: the OCI Wasm working group's (used by
/// `wkg oci push`) and the older wasm-to-oci one.
const WASM_LAYER_MEDIA_TYPES: [&str; 2] = [
    "application/wasm",
    "application/vnd.wasm.content.layer.v1+wasm",
];

/// Downloads the WebAssembly layer of the artifact `image`, at most `max_bytes` of it.
pub async fn pull_component(
    image: &str,
    credentials: &[RegistryCredential],
    max_bytes: u64,
    access: &RegistryAccess,
) -> Result<Vec<u8>, RegistryError> {
    within(access, async {
        let (reference, mut session) = open(image, credentials, access)?;
        let manifest = image_manifest(&mut session, &reference).await?;
        let layer = manifest
            .layers
            .iter()
            .find(|layer| WASM_LAYER_MEDIA_TYPES.contains(&layer.media_type.as_str()))
            .ok_or_else(|| {
                registry_error(
                    RegistryErrorKind::Other,
                    format!(
                        "{image} has no WebAssembly layer (media type {})",
                        WASM_LAYER_MEDIA_TYPES.join(" or ")
                    ),
                )
            })?;
        session
            .blob(&layer.digest, max_bytes, "WebAssembly layer")
            .await
    })
    .await
}

/// The parts of an image manifest or index the operator reads.
#[derive(Debug, serde::Deserialize)]
struct Manifest {
    /// Present in an index: the manifests it lists.
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
}

#[derive(Debug, serde::Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, serde::Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

/// The image manifest `reference` names; for a multi-platform index, its linux/amd64 image
/// (AIM images run on x86-64 GPU nodes, whatever the operator itself runs on).
async fn image_manifest(
    session: &mut Session<'_>,
    reference: &Reference,
) -> Result<Manifest, RegistryError> {
    let tag_or_digest = reference
        .digest()
        .or(reference.tag())
        .unwrap_or("latest")
        .to_owned();
    let manifest = parse_manifest(&session.manifest(&tag_or_digest, MAX_MANIFEST_BYTES).await?)?;
    let Some(entries) = &manifest.manifests else {
        return Ok(manifest);
    };
    let chosen = entries
        .iter()
        .find(|entry| {
            entry
                .platform
                .as_ref()
                .is_some_and(|p| p.os == "linux" && p.architecture == "amd64")
        })
        .ok_or_else(|| {
            registry_error(
                RegistryErrorKind::NotFound,
                format!("{reference} has no linux/amd64 image"),
            )
        })?;
    let image = parse_manifest(&session.manifest(&chosen.digest, MAX_MANIFEST_BYTES).await?)?;
    if image.manifests.is_some() {
        return Err(registry_error(
            RegistryErrorKind::Other,
            format!("{reference}: an index inside an index is not supported"),
        ));
    }
    Ok(image)
}

fn parse_manifest(bytes: &[u8]) -> Result<Manifest, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| {
        registry_error(
            RegistryErrorKind::Other,
            format!("the manifest is not valid: {e}"),
        )
    })
}

/// `config.Labels` of an image config (absent or null means no labels).
fn labels(config: &[u8]) -> Result<BTreeMap<String, String>, String> {
    #[derive(serde::Deserialize)]
    struct ImageConfig {
        #[serde(default)]
        config: Option<Inner>,
    }
    #[derive(serde::Deserialize)]
    struct Inner {
        #[serde(default, rename = "Labels")]
        labels: Option<BTreeMap<String, String>>,
    }
    let parsed: ImageConfig =
        serde_json::from_slice(config).map_err(|e| format!("image config is not valid: {e}"))?;
    Ok(parsed.config.and_then(|c| c.labels).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_labels_from_config() {
        let config = r#"{"architecture":"amd64","config":{"Labels":{"a":"1"}}}"#;
        assert_eq!(
            labels(config.as_bytes()),
            Ok(BTreeMap::from([("a".into(), "1".into())]))
        );
        assert_eq!(
            labels(br#"{"config":{"Labels":null}}"#),
            Ok(BTreeMap::new())
        );
        assert_eq!(labels(b"{}"), Ok(BTreeMap::new()));
        assert!(labels(b"[").is_err());
    }
}
