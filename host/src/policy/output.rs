//! Guest stdout and stderr, kept in memory up to a cap and forwarded to `tracing` after the call.
//!
//! wasmtime-wasi's `MemoryOutputPipe` fails writes past its capacity, which makes a Rust guest's
//! `println!` panic; this pipe accepts every write and silently drops what does not fit, so
//! logging too much never changes a policy's answer.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// How much a guest may offer in one write; anything is accepted, this only paces the guest.
const WRITE_BUDGET: usize = 64 << 10;

#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    dropped: usize,
}

/// A capped in-memory sink shared between the WASI context and the host.
#[derive(Debug, Clone)]
pub struct CappedOutput {
    capacity: usize,
    captured: Arc<Mutex<Captured>>,
}

impl CappedOutput {
    pub fn new(capacity: usize) -> Self {
        CappedOutput {
            capacity,
            captured: Arc::default(),
        }
    }

    fn append(&self, bytes: &[u8]) {
        let mut captured = self.captured.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.capacity.saturating_sub(captured.bytes.len());
        let kept = bytes.len().min(room);
        captured.bytes.extend_from_slice(&bytes[..kept]);
        captured.dropped += bytes.len() - kept;
    }

    /// The captured text (lossily decoded) and how many bytes were dropped past the cap.
    pub fn take(&self) -> (String, usize) {
        let mut captured = self.captured.lock().unwrap_or_else(PoisonError::into_inner);
        let text = String::from_utf8_lossy(&captured.bytes).into_owned();
        let dropped = captured.dropped;
        *captured = Captured::default();
        (text, dropped)
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_BUDGET)
    }
}

impl tokio::io::AsyncWrite for CappedOutput {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_past_the_cap_are_accepted_and_counted_but_not_kept() {
        let mut output = CappedOutput::new(4);
        output.write(Bytes::from_static(b"abc")).unwrap();
        output.write(Bytes::from_static(b"def")).unwrap();
        assert_eq!(output.take(), ("abcd".to_string(), 2));
        assert_eq!(output.take(), (String::new(), 0));
    }
}
