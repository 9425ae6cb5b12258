//! Pushing a small OCI image with the distribution API, by hand (blob upload `POST` + `PUT`, manifest
//! `PUT`), so the images the inspection code reads are made independently of the client under test.

use anyhow::{Context, Result, bail};
use reqwest::header::{CONTENT_TYPE, LOCATION};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use super::TestRegistry;

const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar";

/// An empty tar archive (two zero blocks): the smallest valid layer.
const EMPTY_TAR: [u8; 1024] = [0; 1024];

impl TestRegistry {
    /// Pushes `<repository>:<tag>`: a linux/amd64 image whose config carries `labels` in
    /// `config.Labels`, with one tiny layer. Returns the manifest digest.
    pub async fn push_image(
        &self,
        repository: &str,
        tag: &str,
        labels: &[(&str, &str)],
    ) -> Result<String> {
        let labels: serde_json::Map<String, Value> = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        let layer_digest = digest(&EMPTY_TAR);
        let config = serde_json::to_vec(&json!({
            "architecture": "amd64",
            "os": "linux",
            "config": { "Labels": labels },
            "rootfs": { "type": "layers", "diff_ids": [layer_digest] },
        }))?;
        let config_digest = self.push_blob(repository, &config).await?;
        self.push_blob(repository, &EMPTY_TAR).await?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": { "mediaType": CONFIG_MEDIA_TYPE, "digest": config_digest, "size": config.len() },
            "layers": [{ "mediaType": LAYER_MEDIA_TYPE, "digest": layer_digest, "size": EMPTY_TAR.len() }],
        }))?;
        self.push_manifest(repository, tag, manifest).await
    }

    /// Pushes `<repository>:<tag>`: a WebAssembly component artifact as `wkg oci push` lays it
    /// out (a `application/vnd.wasm.config.v0+json` config, the component as one
    /// `application/wasm` layer). Returns the manifest digest.
    pub async fn push_component(&self, repository: &str, tag: &str, wasm: &[u8]) -> Result<String> {
        let config = serde_json::to_vec(&json!({"architecture": "wasm", "os": "wasip2"}))?;
        let config_digest = self.push_blob(repository, &config).await?;
        let layer_digest = self.push_blob(repository, wasm).await?;
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "artifactType": "application/wasm",
            "config": { "mediaType": "application/vnd.wasm.config.v0+json", "digest": config_digest, "size": config.len() },
            "layers": [{ "mediaType": "application/wasm", "digest": layer_digest, "size": wasm.len() }],
        }))?;
        self.push_manifest(repository, tag, manifest).await
    }

    /// Tags `manifest` as `<repository>:<tag>`; returns its digest.
    async fn push_manifest(
        &self,
        repository: &str,
        tag: &str,
        manifest: Vec<u8>,
    ) -> Result<String> {
        let url = format!("{}/v2/{repository}/manifests/{tag}", self.base_url());
        let manifest_digest = digest(&manifest);
        let request = self
            .http
            .put(&url)
            .header(CONTENT_TYPE, MANIFEST_MEDIA_TYPE)
            .body(manifest);
        expect_status(self.authorized(request).send().await, 201, &url).await?;
        Ok(manifest_digest)
    }

    /// A monolithic upload: `POST` opens an upload session, `PUT ?digest=` completes it.
    async fn push_blob(&self, repository: &str, data: &[u8]) -> Result<String> {
        let digest = digest(data);
        let url = format!("{}/v2/{repository}/blobs/uploads/", self.base_url());
        let request = self.http.post(&url);
        let started = expect_status(self.authorized(request).send().await, 202, &url).await?;
        let location = started
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .with_context(|| format!("POST {url} returned no Location"))?;
        // The spec allows a relative Location; distribution sends an absolute one.
        let mut upload = if location.starts_with('/') {
            format!("{}{location}", self.base_url())
        } else {
            location.to_owned()
        };
        upload.push(if upload.contains('?') { '&' } else { '?' });
        upload.push_str(&format!("digest={digest}"));
        let request = self
            .http
            .put(&upload)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(data.to_vec());
        expect_status(self.authorized(request).send().await, 201, &upload).await?;
        Ok(digest)
    }
}

fn digest(data: &[u8]) -> String {
    let hash = Sha256::digest(data);
    let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

async fn expect_status(
    response: reqwest::Result<reqwest::Response>,
    expected: u16,
    url: &str,
) -> Result<reqwest::Response> {
    let response = response.with_context(|| format!("requesting {url}"))?;
    if response.status().as_u16() == expected {
        return Ok(response);
    }
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    bail!("{url} answered {status} (expected {expected}): {body}")
}
