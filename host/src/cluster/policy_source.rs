//! Reading an AIMPolicy's component and fixtures from where its spec says: a ConfigMap in the
//! operator's namespace, a file in a volume mounted into the operator, or an OCI registry. Each failure carries the
//! condition reason it is reported with.
//!
//! A file must be a regular file under one of the directories the admin configured
//! (`--policy-root`), and is read with a cap whatever its metadata says: a path naming
//! `/dev/zero`, a FIFO or a file outside those directories is refused, never read.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use aim_api::v1alpha1::{AIMPolicyConfigMapKey, AIMPolicyImage, AIMPolicySource, AIMPolicySpec};
use base64::Engine as _;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::{Api, Client};

use crate::cluster::registry::{RegistryAccess, credentials_from_secret, pull_component};
use crate::policy::PolicyLimits;
use crate::render::fixtures::{EXPECTED_SUFFIX, fixture_files};

/// Largest component accepted, so a wrong key cannot make the operator read gigabytes (a
/// ConfigMap is at most 1 MiB anyway; files are the way to ship larger components).
pub const MAX_COMPONENT_BYTES: u64 = 128 << 20;

/// Why the component or fixtures could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// Condition and Event reason.
    pub reason: &'static str,
    pub message: String,
}

impl FetchError {
    fn new(reason: &'static str, message: impl Into<String>) -> Self {
        FetchError {
            reason,
            message: message.into(),
        }
    }
}

/// The per-call limits an AIMPolicy asks for, within the operator's caps.
pub fn limits_of(spec: &AIMPolicySpec) -> PolicyLimits {
    PolicyLimits {
        deadline: Duration::from_millis(u64::from(spec.deadline_milliseconds)),
        memory_bytes: usize::try_from(u64::from(spec.memory_mib) << 20).unwrap_or(usize::MAX),
        ..PolicyLimits::default()
    }
    .clamped()
}

/// One fixture: a render input and its expected output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fixture {
    pub case: String,
    pub input: String,
    pub expected: String,
}

/// Where the admin lets components come from.
#[derive(Debug, Clone, Copy)]
pub struct SourceRules<'a> {
    pub registry: &'a RegistryAccess,
    /// Directories `source.path` must lie under.
    pub roots: &'a [PathBuf],
}

/// Reads the component's bytes.
pub async fn fetch_component(
    client: &Client,
    namespace: &str,
    source: &AIMPolicySource,
    rules: SourceRules<'_>,
) -> Result<Vec<u8>, FetchError> {
    match (&source.config_map, &source.path, &source.image) {
        (Some(key), None, None) => from_config_map(client, namespace, key).await,
        (None, Some(path), None) => from_file(path, rules.roots).await,
        (None, None, Some(image)) => from_registry(client, namespace, image, rules.registry).await,
        _ => Err(FetchError::new(
            "InvalidSource",
            "exactly one of configMap, path or image must be specified",
        )),
    }
}

async fn from_registry(
    client: &Client,
    namespace: &str,
    image: &AIMPolicyImage,
    access: &RegistryAccess,
) -> Result<Vec<u8>, FetchError> {
    let credentials = match &image.pull_secret_name {
        None => Vec::new(),
        Some(name) => {
            let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
            match secrets.get_opt(name).await {
                Ok(Some(secret)) => credentials_from_secret(&secret),
                Ok(None) => {
                    return Err(FetchError::new(
                        "PullSecretNotFound",
                        format!("Secret {namespace}/{name} does not exist"),
                    ));
                }
                Err(error) => {
                    return Err(FetchError::new(
                        "SourceUnreadable",
                        format!("reading Secret {namespace}/{name}: {error}"),
                    ));
                }
            }
        }
    };
    pull_component(&image.reference, &credentials, MAX_COMPONENT_BYTES, access)
        .await
        .map_err(|error| {
            FetchError::new(
                "ImagePullFailed",
                format!("{}: {}", image.reference, error.message),
            )
        })
}

async fn from_config_map(
    client: &Client,
    namespace: &str,
    key: &AIMPolicyConfigMapKey,
) -> Result<Vec<u8>, FetchError> {
    let map = config_map(client, namespace, &key.name).await?;
    if let Some(bytes) = map.binary_data.as_ref().and_then(|d| d.get(&key.key)) {
        return Ok(bytes.0.clone());
    }
    let Some(text) = map.data.as_ref().and_then(|d| d.get(&key.key)) else {
        return Err(FetchError::new(
            "KeyNotFound",
            format!(
                "ConfigMap {namespace}/{} has no key {:?} in binaryData or data",
                key.name, key.key
            ),
        ));
    };
    let compact: String = text.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|error| {
            FetchError::new(
                "SourceUnreadable",
                format!(
                    "key {:?} of ConfigMap {namespace}/{} is in data but is not base64: {error}",
                    key.key, key.name
                ),
            )
        })
}

async fn from_file(path: &str, roots: &[PathBuf]) -> Result<Vec<u8>, FetchError> {
    let path = PathBuf::from(path);
    let roots = roots.to_vec();
    tokio::task::spawn_blocking(move || read_under_roots(&path, &roots, MAX_COMPONENT_BYTES))
        .await
        .map_err(|error| {
            FetchError::new(
                "SourceUnreadable",
                format!("reading the file failed: {error}"),
            )
        })?
}

/// Reads `path` if it is a regular file under one of `roots`, at most `max_bytes` of it.
fn read_under_roots(path: &Path, roots: &[PathBuf], max_bytes: u64) -> Result<Vec<u8>, FetchError> {
    let shown = path.display();
    let unreadable =
        |error: std::io::Error| FetchError::new("SourceUnreadable", format!("{shown}: {error}"));
    // Symbolic links and `..` are resolved first, so the check is on where the file really is.
    let real = path.canonicalize().map_err(unreadable)?;
    let allowed = roots
        .iter()
        .filter_map(|root| root.canonicalize().ok())
        .any(|root| real.starts_with(root));
    if !allowed {
        let roots: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        return Err(FetchError::new(
            "SourceNotAllowed",
            format!(
                "{shown} is not under a directory policies may be read from ({}; the operator's --policy-root)",
                if roots.is_empty() {
                    "none is configured".to_owned()
                } else {
                    roots.join(", ")
                }
            ),
        ));
    }
    // Non-blocking, so opening a FIFO returns at once; no symbolic link in the last place.
    let fd = rustix::fs::open(
        &real,
        rustix::fs::OFlags::RDONLY
            | rustix::fs::OFlags::NONBLOCK
            | rustix::fs::OFlags::CLOEXEC
            | rustix::fs::OFlags::NOFOLLOW,
        rustix::fs::Mode::empty(),
    )
    .map_err(|errno| unreadable(errno.into()))?;
    let file = std::fs::File::from(fd);
    // The type of what was opened, not of what the path named a moment ago.
    if !file.metadata().map_err(unreadable)?.file_type().is_file() {
        return Err(FetchError::new(
            "SourceNotAllowed",
            format!("{shown} is not a regular file"),
        ));
    }
    let mut bytes = Vec::new();
    file.take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(unreadable)?;
    if u64::try_from(bytes.len()).map_or(true, |read| read > max_bytes) {
        return Err(FetchError::new(
            "SourceTooLarge",
            format!("{shown} is larger than {max_bytes} bytes, the most accepted"),
        ));
    }
    Ok(bytes)
}

/// Reads the fixtures of a ConfigMap: every `<case>.yaml` key with its `<case>.expected.yaml`.
pub async fn fetch_fixtures(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Vec<Fixture>, FetchError> {
    let map = config_map(client, namespace, name).await?;
    fixtures_of(&map.data.unwrap_or_default()).map_err(|message| {
        FetchError::new("FixturesInvalid", format!("ConfigMap {name}: {message}"))
    })
}

/// Pairs inputs with expected outputs; a case without its expected output, and an expected
/// output without its case, are errors.
fn fixtures_of(data: &BTreeMap<String, String>) -> Result<Vec<Fixture>, String> {
    let files = fixture_files(data.keys().map(String::as_str));
    if let Some(orphan) = files.orphaned_goldens.first() {
        return Err(format!("{orphan} has no input beside it"));
    }
    let mut fixtures = Vec::new();
    for (case, input) in files.cases {
        let expected = data
            .get(&format!("{case}{EXPECTED_SUFFIX}"))
            .ok_or_else(|| format!("case {case:?} has no {case}{EXPECTED_SUFFIX}"))?;
        fixtures.push(Fixture {
            input: data.get(&input).cloned().unwrap_or_default(),
            expected: expected.clone(),
            case,
        });
    }
    if fixtures.is_empty() {
        return Err("no <case>.yaml keys".to_owned());
    }
    Ok(fixtures)
}

async fn config_map(client: &Client, namespace: &str, name: &str) -> Result<ConfigMap, FetchError> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(map)) => Ok(map),
        Ok(None) => Err(FetchError::new(
            "ConfigMapNotFound",
            format!("ConfigMap {namespace}/{name} does not exist"),
        )),
        Err(error) => Err(FetchError::new(
            "SourceUnreadable",
            format!("reading ConfigMap {namespace}/{name}: {error}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn fixtures_pair_each_input_with_its_expected_output() {
        let fixtures = fixtures_of(&data(&[
            ("a.yaml", "in-a"),
            ("a.expected.yaml", "out-a"),
            ("README", "ignored"),
        ]))
        .unwrap();
        assert_eq!(
            fixtures,
            [Fixture {
                case: "a".into(),
                input: "in-a".into(),
                expected: "out-a".into()
            }]
        );
    }

    #[test]
    fn a_case_without_expected_output_is_refused() {
        let error = fixtures_of(&data(&[("a.yaml", "in-a")])).unwrap_err();
        assert!(error.contains("a.expected.yaml"), "{error}");
    }

    #[test]
    fn an_expected_output_without_its_case_is_refused() {
        let error = fixtures_of(&data(&[
            ("a.yaml", "in-a"),
            ("a.expected.yaml", "out-a"),
            ("b.expected.yaml", "out-b"),
        ]))
        .unwrap_err();
        assert!(error.contains("b.expected.yaml"), "{error}");
    }

    #[test]
    fn an_empty_fixture_map_is_refused() {
        assert!(fixtures_of(&data(&[])).is_err());
    }

    fn spec(deadline_milliseconds: u32, memory_mib: u32) -> AIMPolicySpec {
        serde_json::from_value(serde_json::json!({
            "source": {"path": "/policies/p.wasm"},
            "digest": format!("sha256:{}", "0".repeat(64)),
            "deadlineMilliseconds": deadline_milliseconds,
            "memoryMib": memory_mib,
        }))
        .unwrap()
    }

    #[test]
    fn an_aimpolicys_limits_are_its_spec_within_the_operators_caps() {
        let asked = limits_of(&spec(250, 48));
        assert_eq!(asked.deadline, Duration::from_millis(250));
        assert_eq!(asked.memory_bytes, 48 << 20);

        let huge = limits_of(&spec(u32::MAX, u32::MAX));
        let caps = PolicyLimits {
            deadline: Duration::MAX,
            memory_bytes: usize::MAX,
            ..PolicyLimits::default()
        }
        .clamped();
        assert_eq!(huge.deadline, caps.deadline);
        assert_eq!(huge.memory_bytes, caps.memory_bytes);
    }

    fn refused(path: &Path, roots: &[PathBuf], max_bytes: u64) -> FetchError {
        read_under_roots(path, roots, max_bytes).unwrap_err()
    }

    #[test]
    fn a_regular_file_under_a_root_is_read() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("team").join("p.wasm");
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, b"\0asm").unwrap();
        let roots = [root.path().to_path_buf()];
        assert_eq!(read_under_roots(&file, &roots, 1024).unwrap(), b"\0asm");
    }

    #[test]
    fn paths_outside_the_roots_are_refused_even_through_links() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, b"token").unwrap();
        let roots = [root.path().to_path_buf()];
        assert_eq!(refused(&secret, &roots, 1024).reason, "SourceNotAllowed");
        let link = root.path().join("p.wasm");
        std::os::unix::fs::symlink(&secret, &link).unwrap();
        assert_eq!(refused(&link, &roots, 1024).reason, "SourceNotAllowed");
        let dotdot = root
            .path()
            .join("..")
            .join(outside.path().file_name().unwrap())
            .join("secret");
        assert_eq!(refused(&dotdot, &roots, 1024).reason, "SourceNotAllowed");
        assert_eq!(refused(&secret, &[], 1024).reason, "SourceNotAllowed");
    }

    #[test]
    fn a_fifo_or_a_device_is_refused_without_being_read() {
        let root = tempfile::tempdir().unwrap();
        let fifo = root.path().join("p.wasm");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        // Nothing writes to the FIFO: a blocking open or read would never return.
        let error = refused(&fifo, &[root.path().to_path_buf()], 1024);
        assert_eq!(error.reason, "SourceNotAllowed");
        assert!(
            error.message.contains("not a regular file"),
            "{}",
            error.message
        );
        // An endless device, even under a root, is never read.
        let error = refused(Path::new("/dev/zero"), &[PathBuf::from("/dev")], 1024);
        assert!(
            error.message.contains("not a regular file"),
            "{}",
            error.message
        );
    }

    #[test]
    fn a_file_over_the_cap_is_refused_after_reading_only_the_cap() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("p.wasm");
        std::fs::write(&file, vec![0u8; 2048]).unwrap();
        let error = refused(&file, &[root.path().to_path_buf()], 1024);
        assert_eq!(error.reason, "SourceTooLarge");
    }
}
