//! A registry that misbehaves on purpose, on a free 127.0.0.1 port: it answers every request with
//! one [`Misbehaviour`], so tests can prove the operator's registry reads stay bounded. Plain HTTP
//! over raw TCP, so it can lie in ways a well-written server library would not let it.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use aim_tests::registry::hostile::{HostileRegistry, Misbehaviour};
//! let registry = HostileRegistry::start(Misbehaviour::SlowDrip).await?;
//! let image = registry.image("aim/llama", "0.1"); // "127.0.0.1:<port>/aim/llama:0.1"
//! # let _ = image; Ok(()) }
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Result;
use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// What the registry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misbehaviour {
    /// Promises a manifest of a megabyte and sends one byte every half second.
    SlowDrip,
    /// Sends a manifest of [`HUGE_BYTES`] bytes without saying how long it is.
    HugeManifest,
    /// Serves a valid manifest whose config descriptor says 100 bytes; the config blob it then
    /// sends is [`HUGE_BYTES`] long.
    OversizeConfig,
    /// Answers 500 with a body of [`HUGE_BYTES`] bytes full of control characters and escape
    /// sequences.
    ServerErrorWithHugeBody,
}

/// Bytes sent where a registry should send little.
pub const HUGE_BYTES: usize = 64 << 20;

/// The start of the 500 body: what ends up in a status if nothing cleans it.
pub const ERROR_BODY_START: &str = "\x1b[2J\x1b[31mFATAL\r\n\0Set-Cookie: x\x07";

/// A running hostile registry; stops when dropped.
#[derive(Debug)]
pub struct HostileRegistry {
    port: u16,
    sent: Arc<AtomicU64>,
    server: JoinHandle<()>,
}

impl HostileRegistry {
    pub async fn start(misbehaviour: Misbehaviour) -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let counter = counter.clone();
                tokio::spawn(async move {
                    let _ = answer(stream, misbehaviour, &counter).await;
                });
            }
        });
        Ok(Self { port, sent, server })
    }

    /// `127.0.0.1:<port>/<repository>:<tag>`.
    pub fn image(&self, repository: &str, tag: &str) -> String {
        format!("127.0.0.1:{}/{repository}:{tag}", self.port)
    }

    /// Body bytes it managed to send so far, over all requests.
    pub fn body_bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
}

impl Drop for HostileRegistry {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Reads one request and answers it as `misbehaviour` says; the connection then closes.
async fn answer(mut stream: TcpStream, misbehaviour: Misbehaviour, sent: &AtomicU64) -> Result<()> {
    let path = read_request_path(&mut stream).await?;
    match misbehaviour {
        Misbehaviour::SlowDrip => {
            head(&mut stream, "200 OK", MANIFEST_TYPE, Some(1 << 20)).await?;
            loop {
                stream.write_all(b" ").await?;
                sent.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Misbehaviour::HugeManifest => {
            head(&mut stream, "200 OK", MANIFEST_TYPE, None).await?;
            stream.write_all(b"{\"padding\":\"").await?;
            flood(&mut stream, b'x', sent).await
        }
        Misbehaviour::OversizeConfig if path.contains("/manifests/") => {
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": MANIFEST_TYPE,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": huge_config_digest(), "size": 100},
                "layers": []
            })
            .to_string();
            head(&mut stream, "200 OK", MANIFEST_TYPE, Some(manifest.len())).await?;
            stream.write_all(manifest.as_bytes()).await?;
            Ok(())
        }
        Misbehaviour::OversizeConfig => {
            // Says 100 bytes, like the manifest, and sends far more.
            head(&mut stream, "200 OK", "application/octet-stream", None).await?;
            flood(&mut stream, b'{', sent).await
        }
        Misbehaviour::ServerErrorWithHugeBody => {
            head(&mut stream, "500 Internal Server Error", "text/plain", None).await?;
            stream.write_all(ERROR_BODY_START.as_bytes()).await?;
            flood(&mut stream, b'\n', sent).await
        }
    }
}

const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// The digest of the config blob [`Misbehaviour::OversizeConfig`] sends.
fn huge_config_digest() -> String {
    static DIGEST: OnceLock<String> = OnceLock::new();
    DIGEST
        .get_or_init(|| format!("sha256:{:x}", Sha256::digest(vec![b'{'; HUGE_BYTES])))
        .clone()
}

/// The request line's path, after reading the whole request head.
async fn read_request_path(stream: &mut TcpStream) -> Result<String> {
    let mut head = Vec::new();
    let mut buffer = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 64 << 10 {
        let read = stream.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..read]);
    }
    let text = String::from_utf8_lossy(&head);
    Ok(text
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .unwrap_or_default()
        .to_owned())
}

/// Writes a status line and headers; without `length` the body runs until the connection closes.
async fn head(
    stream: &mut TcpStream,
    status: &str,
    content_type: &str,
    length: Option<usize>,
) -> Result<()> {
    let length = length.map_or_else(String::new, |l| format!("Content-Length: {l}\r\n"));
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{length}Connection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await?;
    Ok(())
}

/// Sends [`HUGE_BYTES`] of `byte`, counting what the reader took, until done or the reader leaves.
async fn flood(stream: &mut TcpStream, byte: u8, sent: &AtomicU64) -> Result<()> {
    let chunk = vec![byte; 64 << 10];
    let mut left = HUGE_BYTES;
    while left > 0 {
        let size = left.min(chunk.len());
        stream.write_all(&chunk[..size]).await?;
        sent.fetch_add(size as u64, Ordering::Relaxed);
        left -= size;
    }
    stream.shutdown().await?;
    Ok(())
}
