//! The OCI distribution protocol as far as the operator needs it: manifests and blobs by `GET`,
//! with bearer-token or basic auth, and every read bounded. Nothing a registry says is trusted: a
//! body is read against a cap as it arrives (a manifest's `size` fields and `Content-Length` are
//! only hints), blobs are checked against their digest, every URL the registry names (token realm,
//! redirects) passes the same address check as the registry itself, and the text of an error
//! answer is read up to a cap and cut to one clean line.

use std::time::Duration;

use aim_api::policy::observation::{RegistryError, RegistryErrorKind};
use base64::Engine as _;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use reqwest::{Client, Response, StatusCode, Url};
use sha2::{Digest as _, Sha256};

use super::address::{PublicResolver, check_url, is_loopback_host};
use super::credentials::RegistryCredential;
use super::registry_error;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the next bytes of an answer; the whole read is bounded by the caller.
const READ_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_REDIRECTS: usize = 5;
/// Largest token answer accepted (real ones are a few KiB).
const MAX_TOKEN_BYTES: u64 = 64 << 10;
/// Bytes of an error answer read to find its error code and message.
const MAX_ERROR_BODY_BYTES: u64 = 16 << 10;

/// Manifest media types the operator reads: images and artifacts, and the indexes that list them.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// The HTTP client for one registry read: no proxy from the environment, redirects only to
/// addresses that pass the check, host names resolved to allowed addresses only. A client per
/// read, as its connections belong to the async runtime that opened them.
fn http_client(allow_private: bool) -> Result<Client, RegistryError> {
    build_client(allow_private).map_err(|error| {
        registry_error(
            RegistryErrorKind::Other,
            format!("could not set up the registry client: {error}"),
        )
    })
}

fn build_client(allow_private: bool) -> reqwest::Result<Client> {
    // reqwest leaves the TLS crypto provider to the process; use ring, which kube uses too, so
    // only one provider is compiled in. Fails harmlessly if one is set.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        match check_url(attempt.url(), allow_private) {
            Ok(()) => attempt.follow(),
            Err(refusal) => attempt.error(refusal),
        }
    });
    Client::builder()
        .no_proxy()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .redirect(redirects)
        .dns_resolver(std::sync::Arc::new(PublicResolver { allow_private }))
        .build()
}

/// Reads from one repository of one registry, keeping the authorization it obtained.
pub struct Session<'a> {
    http: Client,
    /// `<scheme>://<registry>/v2/<repository>/`.
    base: Url,
    repository: String,
    credential: Option<&'a RegistryCredential>,
    authorization: Option<HeaderValue>,
    allow_private: bool,
}

impl<'a> Session<'a> {
    /// A session with `registry` (`host[:port]`) for `repository`, authenticating as
    /// `credential` when the registry asks.
    pub fn open(
        registry: &str,
        repository: &str,
        credential: Option<&'a RegistryCredential>,
        allow_private: bool,
    ) -> Result<Self, RegistryError> {
        let other = |message: String| registry_error(RegistryErrorKind::Other, message);
        let mut base: Url = format!("https://{registry}/v2/{repository}/")
            .parse()
            .map_err(|e| {
                other(format!(
                    "{registry}/{repository} is not a valid registry address: {e}"
                ))
            })?;
        // Local and test registries run on the loopback interface without TLS; traffic that never
        // leaves the host gains nothing from it.
        if allow_private && is_loopback_host(&base) {
            let _ = base.set_scheme("http");
        }
        check_url(&base, allow_private).map_err(other)?;
        Ok(Session {
            http: http_client(allow_private)?,
            base,
            repository: repository.to_owned(),
            credential,
            authorization: None,
            allow_private,
        })
    }

    /// The manifest `reference` (a tag or a digest) names, at most `cap` bytes; checked against
    /// the digest when it is one.
    pub async fn manifest(&mut self, reference: &str, cap: u64) -> Result<Vec<u8>, RegistryError> {
        let url = self.url(&format!("manifests/{reference}"))?;
        let response = self.get(url, Some(MANIFEST_ACCEPT)).await?;
        let body = read_capped(response, cap, "manifest").await?;
        if reference.contains(':') {
            verify(&body, reference, "manifest")?;
        }
        Ok(body)
    }

    /// The blob `digest`, at most `cap` bytes, checked against the digest.
    pub async fn blob(
        &mut self,
        digest: &str,
        cap: u64,
        what: &str,
    ) -> Result<Vec<u8>, RegistryError> {
        let url = self.url(&format!("blobs/{digest}"))?;
        let response = self.get(url, None).await?;
        let body = read_capped(response, cap, what).await?;
        verify(&body, digest, what)?;
        Ok(body)
    }

    fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.base.join(path).map_err(|e| {
            registry_error(
                RegistryErrorKind::Other,
                format!("{path:?} does not make a valid registry URL: {e}"),
            )
        })
    }

    /// `GET url`, authenticating once when the registry answers 401; any other answer than
    /// success is an error.
    async fn get(&mut self, url: Url, accept: Option<&str>) -> Result<Response, RegistryError> {
        let mut response = self.send(&url, accept).await?;
        if response.status() == StatusCode::UNAUTHORIZED && self.authorization.is_none() {
            let challenge = response
                .headers()
                .get(WWW_AUTHENTICATE)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            let Some(challenge) = challenge else {
                return Err(failure(response).await);
            };
            self.authenticate(&challenge).await?;
            response = self.send(&url, accept).await?;
        }
        if response.status().is_success() {
            Ok(response)
        } else {
            Err(failure(response).await)
        }
    }

    async fn send(&self, url: &Url, accept: Option<&str>) -> Result<Response, RegistryError> {
        check_url(url, self.allow_private)
            .map_err(|refusal| registry_error(RegistryErrorKind::Other, refusal))?;
        let mut request = self.http.get(url.clone());
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        request.send().await.map_err(transport)
    }

    /// Obtains an authorization as the challenge says: a bearer token from its realm, or the
    /// credential as basic auth.
    async fn authenticate(&mut self, challenge: &str) -> Result<(), RegistryError> {
        let challenge = Challenge::parse(challenge);
        let header = match challenge.scheme.to_ascii_lowercase().as_str() {
            "bearer" => self.token(&challenge).await?,
            "basic" => match self.credential {
                Some(credential) => basic(credential),
                None => {
                    return Err(registry_error(
                        RegistryErrorKind::Auth,
                        "the registry requires credentials and no pull secret has any for it",
                    ));
                }
            },
            other => {
                return Err(registry_error(
                    RegistryErrorKind::Auth,
                    format!(
                        "the registry asks for {other:?} authentication, which is not supported"
                    ),
                ));
            }
        };
        self.authorization = Some(HeaderValue::from_str(&header).map_err(|_| {
            registry_error(
                RegistryErrorKind::Auth,
                "the registry's token is not a valid header value",
            )
        })?);
        Ok(())
    }

    /// `Bearer <token>` from the challenge's realm, for pulling from this repository.
    async fn token(&self, challenge: &Challenge) -> Result<String, RegistryError> {
        let realm = challenge.param("realm").ok_or_else(|| {
            registry_error(
                RegistryErrorKind::Auth,
                "the registry's bearer challenge names no realm",
            )
        })?;
        let mut url: Url = realm.parse().map_err(|e| {
            registry_error(
                RegistryErrorKind::Auth,
                format!("the token realm {realm:?} is not a URL: {e}"),
            )
        })?;
        check_url(&url, self.allow_private).map_err(|refusal| {
            registry_error(RegistryErrorKind::Other, format!("token realm: {refusal}"))
        })?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = challenge.param("service") {
                query.append_pair("service", service);
            }
            query.append_pair("scope", &format!("repository:{}:pull", self.repository));
        }
        let mut request = self.http.get(url);
        if let Some(credential) = self.credential {
            request = request.header(AUTHORIZATION, basic(credential));
        }
        let response = request.send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(failure(response).await);
        }
        let body = read_capped(response, MAX_TOKEN_BYTES, "token").await?;
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            token: Option<String>,
            access_token: Option<String>,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            registry_error(
                RegistryErrorKind::Auth,
                format!("the token answer is not valid: {e}"),
            )
        })?;
        answer
            .token
            .or(answer.access_token)
            .filter(|token| !token.is_empty())
            .map(|token| format!("Bearer {token}"))
            .ok_or_else(|| {
                registry_error(RegistryErrorKind::Auth, "the token answer holds no token")
            })
    }
}

fn basic(credential: &RegistryCredential) -> String {
    let pair = format!("{}:{}", credential.username, credential.password);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A `WWW-Authenticate` challenge: its scheme and `key="value"` parameters.
struct Challenge {
    scheme: String,
    params: Vec<(String, String)>,
}

impl Challenge {
    fn parse(header: &str) -> Self {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        let mut params = Vec::new();
        let mut rest = rest.trim_start();
        while let Some((key, after)) = rest.split_once('=') {
            let key = key
                .trim()
                .trim_start_matches(',')
                .trim()
                .to_ascii_lowercase();
            let after = after.trim_start();
            let (value, remainder) = match after.strip_prefix('"') {
                Some(quoted) => match quoted.split_once('"') {
                    Some((value, remainder)) => (value, remainder),
                    None => (quoted, ""),
                },
                None => after.split_once(',').unwrap_or((after, "")),
            };
            params.push((key, value.trim().to_owned()));
            rest = remainder.trim_start().trim_start_matches(',');
        }
        Challenge {
            scheme: scheme.to_owned(),
            params,
        }
    }

    fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The body of `response`, failing as soon as it passes `cap` bytes, whatever the headers said.
async fn read_capped(response: Response, cap: u64, what: &str) -> Result<Vec<u8>, RegistryError> {
    let too_large = |size: String| {
        registry_error(
            RegistryErrorKind::Other,
            format!("the {what} is {size} bytes; at most {cap} are accepted"),
        )
    };
    if let Some(length) = response.content_length().filter(|length| *length > cap) {
        return Err(too_large(length.to_string()));
    }
    let (body, complete) = read_prefix(response, cap).await?;
    if complete {
        Ok(body)
    } else {
        Err(too_large("more than that".to_owned()))
    }
}

/// At most the first `cap` bytes of the body of `response`, and whether that was all of it.
async fn read_prefix(mut response: Response, cap: u64) -> Result<(Vec<u8>, bool), RegistryError> {
    let cap = usize::try_from(cap).unwrap_or(usize::MAX);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        let room = cap - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// Fails unless `body` has the sha256 `digest` names.
fn verify(body: &[u8], digest: &str, what: &str) -> Result<(), RegistryError> {
    let Some(expected) = digest.strip_prefix("sha256:") else {
        return Err(registry_error(
            RegistryErrorKind::Other,
            format!("the {what} digest {digest:?} is not a sha256 digest"),
        ));
    };
    let actual = format!("{:x}", Sha256::digest(body));
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(registry_error(
            RegistryErrorKind::Other,
            format!("the {what} the registry sent has digest sha256:{actual}, not {digest}"),
        ))
    }
}

/// A non-success answer as an error: classified by the OCI error code in its body, else by its
/// status; its message read up to a cap.
async fn failure(response: Response) -> RegistryError {
    let status = response.status();
    // Only the start of it: enough for an error code and a message.
    let body = read_prefix(response, MAX_ERROR_BODY_BYTES)
        .await
        .map_or_else(|_| Vec::new(), |(body, _)| body);
    let envelope: Option<ErrorEnvelope> = serde_json::from_slice(&body).ok();
    let coded = envelope
        .as_ref()
        .and_then(|e| e.errors.iter().find_map(|error| kind_of_code(&error.code)));
    let kind = coded.unwrap_or(match status.as_u16() {
        401 | 403 => RegistryErrorKind::Auth,
        404 => RegistryErrorKind::NotFound,
        _ => RegistryErrorKind::Other,
    });
    let detail = match envelope {
        Some(envelope) if !envelope.errors.is_empty() => envelope
            .errors
            .iter()
            .map(|e| format!("{}: {}", e.code, e.message))
            .collect::<Vec<_>>()
            .join("; "),
        _ => String::from_utf8_lossy(&body).into_owned(),
    };
    registry_error(kind, format!("the registry answered {status}: {detail}"))
}

#[derive(serde::Deserialize)]
struct ErrorEnvelope {
    #[serde(default)]
    errors: Vec<OciError>,
}

#[derive(serde::Deserialize)]
struct OciError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The kind an OCI error code stands for, if it says.
fn kind_of_code(code: &str) -> Option<RegistryErrorKind> {
    match code {
        "UNAUTHORIZED" | "DENIED" => Some(RegistryErrorKind::Auth),
        "MANIFEST_UNKNOWN" | "NAME_UNKNOWN" | "BLOB_UNKNOWN" | "NOT_FOUND" => {
            Some(RegistryErrorKind::NotFound)
        }
        _ => None,
    }
}

/// A request that got no answer: the whole chain of causes, since reqwest's own message only
/// names the URL.
fn transport(error: reqwest::Error) -> RegistryError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    registry_error(RegistryErrorKind::Other, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_with_quoted_and_bare_parameters() {
        let c = Challenge::parse(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
        );
        assert_eq!(c.scheme, "Bearer");
        assert_eq!(c.param("realm"), Some("https://auth.example/token"));
        assert_eq!(c.param("service"), Some("registry.example"));
        assert_eq!(c.param("scope"), Some("repository:a/b:pull"));
        let c = Challenge::parse(r#"Basic realm="Registry Realm", charset=UTF-8"#);
        assert_eq!(c.scheme, "Basic");
        assert_eq!(c.param("realm"), Some("Registry Realm"));
        assert_eq!(c.param("charset"), Some("UTF-8"));
    }

    #[test]
    fn classifies_by_error_code() {
        assert_eq!(
            kind_of_code("MANIFEST_UNKNOWN"),
            Some(RegistryErrorKind::NotFound)
        );
        assert_eq!(
            kind_of_code("NAME_UNKNOWN"),
            Some(RegistryErrorKind::NotFound)
        );
        assert_eq!(kind_of_code("DENIED"), Some(RegistryErrorKind::Auth));
        assert_eq!(kind_of_code("TOOMANYREQUESTS"), None);
    }

    #[test]
    fn a_blob_must_have_its_digest() {
        let digest = format!("sha256:{:x}", Sha256::digest(b"abc"));
        assert!(verify(b"abc", &digest, "blob").is_ok());
        assert!(verify(b"abd", &digest, "blob").is_err());
        assert!(verify(b"abc", "md5:900150983cd24fb0d6963f7d28e17f72", "blob").is_err());
    }
}
