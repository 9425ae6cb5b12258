//! Registry reads: image label inspection (an image's `config.Labels`, for the model policy) and
//! policy components published as OCI artifacts. Errors are classified by what the registry
//! answered (status code or OCI error code, never message text).
//!
//! HTTPS everywhere, except registries on the loopback interface (`localhost`, `127.0.0.1`, `[::1]`),
//! which are reached over plain HTTP: that is where local and test registries run, and traffic that
//! never leaves the host gains nothing from TLS.

mod credentials;

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::Duration;

use aim_api::policy::observation::{ImageInspection, RegistryError, RegistryErrorKind};
use oci_client::client::{ClientConfig, ClientProtocol, linux_amd64_resolver};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};

pub use credentials::{RegistryCredential, credentials_from_secret};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the labels of `image`, authenticating with the first of `credentials` for its registry.
pub async fn inspect_image(image: &str, credentials: &[RegistryCredential]) -> ImageInspection {
    let result = fetch_labels(image, credentials).await;
    ImageInspection {
        image: image.to_owned(),
        labels: result.as_ref().ok().cloned(),
        error: result.err(),
    }
}

async fn fetch_labels(
    image: &str,
    credentials: &[RegistryCredential],
) -> Result<BTreeMap<String, String>, RegistryError> {
    let reference: Reference = image.parse().map_err(|e| RegistryError {
        kind: RegistryErrorKind::Other,
        message: format!("invalid image reference {image:?}: {e}"),
    })?;
    let auth = match credentials::for_registry(credentials, reference.registry()) {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    };
    let (_manifest, _digest, config) = client_for(&reference)
        .pull_manifest_and_config(&reference, &auth)
        .await
        .map_err(|e| RegistryError {
            kind: classify(&e),
            message: e.to_string(),
        })?;
    labels(&config).map_err(|message| RegistryError {
        kind: RegistryErrorKind::Other,
        message,
    })
}

/// Layer media types of a WebAssembly component artifact: the OCI Wasm working group's (used by
/// `wkg oci push`) and the older wasm-to-oci one.
const WASM_LAYER_MEDIA_TYPES: [&str; 2] = [
    "application/wasm",
    oci_client::manifest::WASM_LAYER_MEDIA_TYPE,
];

/// Downloads the WebAssembly layer of the artifact `image`, refusing layers over `max_bytes`
/// before reading them.
pub async fn pull_component(
    image: &str,
    credentials: &[RegistryCredential],
    max_bytes: u64,
) -> Result<Vec<u8>, RegistryError> {
    let other = |message: String| RegistryError {
        kind: RegistryErrorKind::Other,
        message,
    };
    let reference: Reference = image
        .parse()
        .map_err(|e| other(format!("invalid reference {image:?}: {e}")))?;
    let auth = match credentials::for_registry(credentials, reference.registry()) {
        Some(c) => RegistryAuth::Basic(c.username.clone(), c.password.clone()),
        None => RegistryAuth::Anonymous,
    };
    let registry_error = |e: OciDistributionError| RegistryError {
        kind: classify(&e),
        message: e.to_string(),
    };
    let client = client_for(&reference);
    let (manifest, _digest) = client
        .pull_image_manifest(&reference, &auth)
        .await
        .map_err(registry_error)?;
    let layer = manifest
        .layers
        .iter()
        .find(|layer| WASM_LAYER_MEDIA_TYPES.contains(&layer.media_type.as_str()))
        .ok_or_else(|| {
            other(format!(
                "{image} has no WebAssembly layer (media type {})",
                WASM_LAYER_MEDIA_TYPES.join(" or ")
            ))
        })?;
    if u64::try_from(layer.size).map_or(true, |size| size > max_bytes) {
        return Err(other(format!(
            "the WebAssembly layer of {image} is {} bytes; at most {max_bytes} are accepted",
            layer.size
        )));
    }
    let mut data = Vec::new();
    client
        .pull_blob(&reference, layer, &mut data)
        .await
        .map_err(registry_error)?;
    Ok(data)
}

fn client_for(reference: &Reference) -> Client {
    // The reqwest build inside oci-client leaves the TLS crypto provider to the process; use ring,
    // which kube uses too, so only one provider is compiled in. Fails harmlessly if one is set.
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let registry = reference.resolve_registry();
    let protocol = if is_loopback(registry) {
        ClientProtocol::HttpsExcept(vec![registry.to_owned()])
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        // AIM images run on x86-64 GPU nodes; a multi-arch index is read for that platform,
        // whatever the operator itself runs on.
        platform_resolver: Some(Box::new(linux_amd64_resolver)),
        connect_timeout: Some(CONNECT_TIMEOUT),
        read_timeout: Some(READ_TIMEOUT),
        ..ClientConfig::default()
    })
}

/// `host[:port]` names the loopback interface.
fn is_loopback(registry: &str) -> bool {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => registry.split(':').next().unwrap_or_default(),
    };
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

/// `config.Labels` of an image config (absent or null means no labels).
fn labels(config: &str) -> Result<BTreeMap<String, String>, String> {
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
        serde_json::from_str(config).map_err(|e| format!("image config is not valid: {e}"))?;
    Ok(parsed.config.and_then(|c| c.labels).unwrap_or_default())
}

/// By HTTP status, or the OCI error code the registry put in its error body (which is all that
/// oci-client keeps of a 4xx with a body).
fn classify(error: &OciDistributionError) -> RegistryErrorKind {
    match error {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => RegistryErrorKind::Auth,
        OciDistributionError::ImageManifestNotFoundError(_) => RegistryErrorKind::NotFound,
        OciDistributionError::ServerError { code, .. } => match code {
            401 | 403 => RegistryErrorKind::Auth,
            404 => RegistryErrorKind::NotFound,
            _ => RegistryErrorKind::Other,
        },
        OciDistributionError::RegistryError { envelope, .. } => envelope
            .errors
            .iter()
            .find_map(|e| match e.code {
                OciErrorCode::Unauthorized | OciErrorCode::Denied => Some(RegistryErrorKind::Auth),
                OciErrorCode::ManifestUnknown
                | OciErrorCode::NameUnknown
                | OciErrorCode::BlobUnknown
                | OciErrorCode::NotFound => Some(RegistryErrorKind::NotFound),
                _ => None,
            })
            .unwrap_or(RegistryErrorKind::Other),
        _ => RegistryErrorKind::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_registries_are_plain_http() {
        for r in [
            "localhost",
            "localhost:5000",
            "127.0.0.1:35000",
            "[::1]:5000",
        ] {
            assert!(is_loopback(r), "{r}");
        }
        for r in [
            "ghcr.io",
            "index.docker.io",
            "127.0.0.2:5000",
            "localhost.evil.com",
        ] {
            assert!(!is_loopback(r), "{r}");
        }
    }

    #[test]
    fn classifies_by_status_and_error_code() {
        let server = |code| OciDistributionError::ServerError {
            code,
            url: String::new(),
            message: "text that is never looked at".into(),
        };
        assert_eq!(classify(&server(403)), RegistryErrorKind::Auth);
        assert_eq!(classify(&server(404)), RegistryErrorKind::NotFound);
        assert_eq!(classify(&server(500)), RegistryErrorKind::Other);
        let unauthorized = OciDistributionError::UnauthorizedError { url: String::new() };
        assert_eq!(classify(&unauthorized), RegistryErrorKind::Auth);
        let envelope = |code: &str| {
            let json = format!(r#"{{"errors":[{{"code":"{code}","message":"m"}}]}}"#);
            OciDistributionError::RegistryError {
                envelope: serde_json::from_str(&json).expect("envelope"),
                url: String::new(),
            }
        };
        assert_eq!(
            classify(&envelope("MANIFEST_UNKNOWN")),
            RegistryErrorKind::NotFound
        );
        assert_eq!(
            classify(&envelope("NAME_UNKNOWN")),
            RegistryErrorKind::NotFound
        );
        assert_eq!(classify(&envelope("DENIED")), RegistryErrorKind::Auth);
        assert_eq!(
            classify(&envelope("TOOMANYREQUESTS")),
            RegistryErrorKind::Other
        );
    }

    #[test]
    fn reads_labels_from_config() {
        let config = r#"{"architecture":"amd64","config":{"Labels":{"a":"1"}}}"#;
        assert_eq!(
            labels(config),
            Ok(BTreeMap::from([("a".into(), "1".into())]))
        );
        assert_eq!(labels(r#"{"config":{"Labels":null}}"#), Ok(BTreeMap::new()));
        assert_eq!(labels("{}"), Ok(BTreeMap::new()));
        assert!(labels("[").is_err());
    }
}
