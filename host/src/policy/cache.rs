//! The on-disk cache of compiled policies.
//!
//! Compiling a JavaScript or Python policy takes seconds; loading a compiled artifact takes
//! milliseconds. Loading one is also the only `unsafe` operation in the host: wasmtime only
//! lightly validates artifacts, so a forged one could run arbitrary native code. An entry is
//! therefore trusted only if it carries a MAC made with this cache's secret key, which lives
//! beside the entries in a directory only this user can read. A missing, corrupt or foreign
//! entry is recompiled and rewritten, never loaded and never fatal.
//!
//! Entry file: `<sha256(wasm)>-<engine hash>.cwasm` = magic, HMAC-SHA256(key, name ‖ artifact),
//! artifact. The MAC covers the file name, so an entry cannot be moved to another policy's key.
//!
//! The cache holds at most a configured number of bytes: after each store the least recently used
//! entries (by modification time, which a hit refreshes) are removed until it fits, and an
//! artifact larger than the whole cap is not stored at all. Every AIMPolicy version ever loaded
//! would otherwise stay on disk for good, and a full volume evicts the pod.

use std::fs::{self, File, OpenOptions};
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use hmac::{Hmac, Mac};
use sha2::{Digest as _, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

use super::digest::Digest;

const MAGIC: &[u8; 8] = b"AIMPOL01";
const MAC_LEN: usize = 32;
const SECRET_FILE: &str = "cache.key";
const SECRET_LEN: usize = 32;
const ENTRY_SUFFIX: &str = ".cwasm";
/// Default cap on the cache's size: below the chart's 256 MiB volume, room for about five
/// JavaScript or Python policies or hundreds of Rust ones.
pub const DEFAULT_CACHE_MAX_BYTES: u64 = 192 << 20;

type HmacSha256 = Hmac<Sha256>;

/// The precompile cache directory and its secret key.
#[derive(Debug)]
pub struct PrecompileCache {
    dir: PathBuf,
    secret: [u8; SECRET_LEN],
    engine_hash: String,
    /// Bytes of entries kept at most.
    max_bytes: u64,
}

/// Where a loaded component came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// A trusted entry was loaded.
    Hit,
    /// No usable entry; compiled and stored.
    Compiled,
    /// An entry existed but failed verification; compiled and replaced.
    Replaced,
    /// Not from the cache: the artifact precompiled into the binary (the default policy).
    Embedded,
}

/// `$XDG_CACHE_HOME/aim-engine/policies`, else `~/.cache/aim-engine/policies`, else a directory
/// under the system temp dir.
pub fn default_cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    base.join("aim-engine").join("policies")
}

impl PrecompileCache {
    /// Opens (creating if needed) the cache in `dir` for `engine`'s compilation settings, holding
    /// at most `max_bytes` of entries.
    pub fn open(dir: &Path, engine: &Engine, max_bytes: u64) -> io::Result<Self> {
        prepare_private_dir(dir)?;
        let secret = load_or_create_secret(dir)?;
        Ok(PrecompileCache {
            dir: dir.to_path_buf(),
            secret,
            engine_hash: engine_hash(engine),
            max_bytes,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the compiled form of `wasm` (whose digest is `digest`), compiling and storing it
    /// when there is no trusted entry. Cache IO problems are logged, never returned.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        digest: &Digest,
        wasm: &[u8],
    ) -> wasmtime::Result<(Component, CacheOutcome)> {
        let name = format!("{}-{}{ENTRY_SUFFIX}", digest.to_hex(), self.engine_hash);
        let path = self.dir.join(&name);
        let mut outcome = CacheOutcome::Compiled;
        match fs::read(&path) {
            Ok(entry) => match self.verified_artifact(&name, &entry) {
                Some(artifact) => match deserialize_trusted(engine, artifact) {
                    Ok(component) => {
                        touch(&path);
                        return Ok((component, CacheOutcome::Hit));
                    }
                    Err(error) => {
                        tracing::warn!(path = %path.display(), error = %error, "precompiled policy could not be loaded; recompiling");
                        outcome = CacheOutcome::Replaced;
                    }
                },
                None => {
                    tracing::warn!(path = %path.display(), "precompiled policy failed verification; recompiling");
                    outcome = CacheOutcome::Replaced;
                }
            },
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => {
                tracing::warn!(path = %path.display(), error = %error, "precompiled policy unreadable; recompiling")
            }
        }
        let component = Component::new(engine, wasm)?;
        match component.serialize() {
            Ok(artifact) => {
                if let Err(error) = self.store(&name, &artifact) {
                    tracing::warn!(path = %path.display(), error = %error, "could not store precompiled policy");
                }
            }
            Err(error) => tracing::warn!(error = %error, "could not serialize compiled policy"),
        }
        Ok((component, outcome))
    }

    /// The artifact inside `entry` if its MAC proves this cache wrote it under `name`.
    fn verified_artifact<'a>(&self, name: &str, entry: &'a [u8]) -> Option<&'a [u8]> {
        let rest = entry.strip_prefix(MAGIC.as_slice())?;
        if rest.len() < MAC_LEN {
            return None;
        }
        let (tag, artifact) = rest.split_at(MAC_LEN);
        self.mac(name, artifact).verify_slice(tag).ok()?;
        Some(artifact)
    }

    fn mac(&self, name: &str, artifact: &[u8]) -> HmacSha256 {
        #[allow(clippy::expect_used)]
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.secret)
            .expect("HMAC accepts keys of any length");
        mac.update(name.as_bytes());
        mac.update(&[0]);
        mac.update(artifact);
        mac
    }

    fn store(&self, name: &str, artifact: &[u8]) -> io::Result<()> {
        let tag = self.mac(name, artifact).finalize().into_bytes();
        let mut entry = Vec::with_capacity(MAGIC.len() + MAC_LEN + artifact.len());
        entry.extend_from_slice(MAGIC);
        entry.extend_from_slice(&tag);
        entry.extend_from_slice(artifact);
        if u64::try_from(entry.len()).map_or(true, |size| size > self.max_bytes) {
            tracing::info!(
                bytes = entry.len(),
                max_bytes = self.max_bytes,
                "compiled policy is larger than the whole precompile cache; not stored"
            );
            return Ok(());
        }
        write_atomically(&self.dir, name, &entry)?;
        evict_least_recently_used(&self.dir, self.max_bytes, name)
    }
}

/// Marks an entry as just used, so eviction keeps it longest. Best effort: an entry whose time
/// cannot be set is only evicted sooner.
fn touch(path: &Path) {
    let touched = OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|file| file.set_modified(SystemTime::now()));
    if let Err(error) = touched {
        tracing::debug!(path = %path.display(), %error, "could not mark a cache entry as used");
    }
}

/// Removes the least recently used entries of `dir` (oldest modification time first), never
/// `keep`, until they take at most `max_bytes`.
fn evict_least_recently_used(dir: &Path, max_bytes: u64, keep: &str) -> io::Result<()> {
    let mut entries = Vec::new();
    let mut total: u64 = 0;
    for item in fs::read_dir(dir)? {
        let item = item?;
        let name = item.file_name().to_string_lossy().into_owned();
        let metadata = item.metadata()?;
        if !name.ends_with(ENTRY_SUFFIX) || !metadata.is_file() {
            continue;
        }
        total = total.saturating_add(metadata.len());
        let used = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        entries.push((used, name, metadata.len()));
    }
    entries.sort();
    for (_, name, size) in entries {
        if total <= max_bytes {
            break;
        }
        if name == keep {
            continue;
        }
        match fs::remove_file(dir.join(&name)) {
            Ok(()) => {
                total = total.saturating_sub(size);
                tracing::info!(entry = %name, bytes = size, "evicted a compiled policy from the precompile cache");
            }
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                total = total.saturating_sub(size);
            }
            Err(error) => return Err(error),
        }
    }
    Ok(())
}

/// Loads an artifact this cache compiled and whose MAC it has just verified.
#[allow(unsafe_code)]
fn deserialize_trusted(engine: &Engine, artifact: &[u8]) -> wasmtime::Result<Component> {
    // SAFETY: wasmtime requires that the bytes come from `Component::serialize` or
    // `Engine::precompile_component` of a compatible engine. Our caller only passes bytes whose
    // HMAC, keyed by this cache's private secret (0600 in a 0700 directory owned by this user),
    // was verified over exactly these bytes; only this process's `store` creates such MACs, and
    // only over output of `Component::serialize`. The bytes are in memory, so nothing can change
    // them between the check and this call. Artifacts of another wasmtime version are detected
    // by wasmtime itself and fail with an error, and the file name binds the engine hash.
    unsafe { Component::deserialize(engine, artifact) }
}

/// Creates `dir` with mode 0700 and refuses one that another user owns or others can open.
fn prepare_private_dir(dir: &Path) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let metadata = fs::symlink_metadata(dir)?;
    if !metadata.is_dir() {
        return Err(io::Error::other(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    if metadata.uid() != effective_uid(dir)? {
        return Err(io::Error::other(format!(
            "{} belongs to another user",
            dir.display()
        )));
    }
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

/// The uid files created by this process get, learnt from a short-lived probe file.
fn effective_uid(dir: &Path) -> io::Result<u32> {
    let probe = dir.join(format!(".probe-{}", random_suffix()?));
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&probe)?;
    let uid = file.metadata()?.uid();
    drop(file);
    fs::remove_file(&probe)?;
    Ok(uid)
}

fn load_or_create_secret(dir: &Path) -> io::Result<[u8; SECRET_LEN]> {
    let path = dir.join(SECRET_FILE);
    match File::open(&path) {
        Ok(mut file) => {
            let metadata = file.metadata()?;
            let mut secret = [0u8; SECRET_LEN];
            let private = metadata.mode() & 0o077 == 0 && metadata.uid() == effective_uid(dir)?;
            if private
                && metadata.len() == SECRET_LEN as u64
                && file.read_exact(&mut secret).is_ok()
            {
                return Ok(secret);
            }
            tracing::warn!(path = %path.display(), "policy cache key is not private or malformed; replacing it");
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => return Err(error),
    }
    let mut secret = [0u8; SECRET_LEN];
    getrandom::fill(&mut secret)
        .map_err(|error| io::Error::other(format!("no randomness for the cache key: {error}")))?;
    // A new key makes every older entry fail verification, which is what a replaced key should do.
    write_atomically(dir, SECRET_FILE, &secret)?;
    Ok(secret)
}

/// Writes `bytes` to `dir/name` through a 0600 temporary file and a rename, so readers never
/// see a partial file.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let temporary = dir.join(format!(".{name}.tmp-{}", random_suffix()?));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temporary)?;
        file.write_all(bytes)?;
        file.flush()?;
        fs::rename(&temporary, dir.join(name))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn random_suffix() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes)
        .map_err(|error| io::Error::other(format!("no randomness: {error}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A short stable fingerprint of the engine's compilation settings and wasmtime version.
fn engine_hash(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hasher
        .0
        .finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Feeds `Hash` output into sha256, which, unlike `DefaultHasher`, is stable across builds.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_leave_a_private_file_and_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        write_atomically(dir.path(), "entry", b"bytes").unwrap();
        let metadata = fs::metadata(dir.path().join("entry")).unwrap();
        assert_eq!(metadata.mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    fn entry(dir: &Path, name: &str, bytes: usize, age_seconds: u64) {
        let path = dir.join(name);
        fs::write(&path, vec![0u8; bytes]).unwrap();
        let when = SystemTime::now() - std::time::Duration::from_secs(age_seconds);
        File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(when)
            .unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn eviction_removes_the_least_recently_used_entries_until_the_cache_fits() {
        let dir = tempfile::tempdir().unwrap();
        entry(dir.path(), "old.cwasm", 400, 300);
        entry(dir.path(), "used.cwasm", 400, 200);
        entry(dir.path(), "new.cwasm", 400, 0);
        fs::write(dir.path().join(SECRET_FILE), [0u8; SECRET_LEN]).unwrap();
        // A hit makes an old entry the most recently used one.
        touch(&dir.path().join("used.cwasm"));
        evict_least_recently_used(dir.path(), 800, "new.cwasm").unwrap();
        assert_eq!(names(dir.path()), ["cache.key", "new.cwasm", "used.cwasm"]);
        // The entry just stored stays even when it alone is over the cap.
        evict_least_recently_used(dir.path(), 100, "new.cwasm").unwrap();
        assert_eq!(names(dir.path()), ["cache.key", "new.cwasm"]);
    }

    #[test]
    fn the_secret_is_created_once_and_kept_private() {
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("policies");
        prepare_private_dir(&cache_dir).unwrap();
        let first = load_or_create_secret(&cache_dir).unwrap();
        assert_eq!(load_or_create_secret(&cache_dir).unwrap(), first);
        assert_eq!(fs::metadata(&cache_dir).unwrap().mode() & 0o777, 0o700);
        assert_eq!(
            fs::metadata(cache_dir.join(SECRET_FILE)).unwrap().mode() & 0o777,
            0o600
        );
    }
}
