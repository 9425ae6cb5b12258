//! The fake kubelet's HTTPS endpoint: `GET /containerLogs/{namespace}/{pod}/{container}`, the one
//! kubelet API the apiserver's pod-log proxy calls. Everything else is 404.
//!
//! Like a real kubelet it requires a client certificate signed by the cluster CA (the apiserver's
//! `--kubelet-client-certificate`), and it honours the `limitBytes` and `tailLines` query parameters
//! the apiserver passes through from `LogParams`.

use std::convert::Infallible;
use std::sync::Arc;

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig, crypto};

use super::{Logs, lock};
use crate::pki::Pki;

/// Binds a free loopback port and serves on a task of the caller's runtime.
pub(super) async fn serve(pki: &Pki, logs: Logs) -> Result<(u16, JoinHandle<()>)> {
    let acceptor = TlsAcceptor::from(Arc::new(tls_config(pki)?));
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let server = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let logs = logs.clone();
            tokio::spawn(async move {
                // A failed handshake or a dropped connection concerns only that request.
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let logs = logs.clone();
                    async move { Ok::<_, Infallible>(respond(&req, &logs)) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    Ok((port, server))
}

fn tls_config(pki: &Pki) -> Result<ServerConfig> {
    let read_certs = |path: &std::path::Path| -> Result<Vec<CertificateDer<'static>>> {
        CertificateDer::pem_file_iter(path)
            .and_then(Iterator::collect)
            .with_context(|| {
                format!(
                    "reading {} (a control plane started before the fake kubelet existed has none; \
                     restart it)",
                    path.display()
                )
            })
    };
    let key = PrivateKeyDer::from_pem_file(&pki.kubelet_key)
        .with_context(|| format!("reading {}", pki.kubelet_key.display()))?;
    let mut roots = RootCertStore::empty();
    for ca in read_certs(&pki.ca_cert)? {
        roots.add(ca)?;
    }
    // Explicitly ring, the provider kube uses too: no process-wide default is assumed.
    let provider = Arc::new(crypto::ring::default_provider());
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(read_certs(&pki.kubelet_cert)?, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

fn respond(req: &Request<Incoming>, logs: &Logs) -> Response<Full<Bytes>> {
    if req.method() != Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "only GET is served".to_owned(),
        );
    }
    let path = req.uri().path();
    let Some([namespace, pod, container]) = path
        .strip_prefix("/containerLogs/")
        .map(|rest| rest.split('/').collect::<Vec<_>>())
        .and_then(|parts| <[&str; 3]>::try_from(parts).ok())
    else {
        return text(StatusCode::NOT_FOUND, format!("no handler for {path}"));
    };
    let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
    let Some(log) = lock(logs).get(&key).cloned() else {
        // What a kubelet says about a pod it does not run.
        return text(
            StatusCode::NOT_FOUND,
            format!(
                "pod \"{pod}\" in namespace \"{namespace}\" has no container \"{container}\" on this node"
            ),
        );
    };
    text(StatusCode::OK, apply_limits(log, req.uri().query()))
}

/// `tailLines` first, then `limitBytes`, as the kubelet applies them.
fn apply_limits(mut log: String, query: Option<&str>) -> String {
    let param = |name: &str| -> Option<usize> {
        query?
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.parse().ok())
    };
    if let Some(tail) = param("tailLines") {
        let lines: Vec<&str> = log.split_inclusive('\n').collect();
        log = lines[lines.len().saturating_sub(tail)..].concat();
    }
    if let Some(limit) = param("limitBytes")
        && log.len() > limit
    {
        // A real kubelet cuts bytes; cutting at a character boundary keeps this a `String`.
        log.truncate(log.floor_char_boundary(limit));
    }
    log
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
