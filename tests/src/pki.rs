//! Throwaway PKI for one control plane: a CA, the apiserver serving cert, an admin client cert, the
//! service-account signing key pair, the two certs of the apiserver-to-kubelet connection (the
//! fake kubelet's serving cert and the apiserver's client cert for it), and the serving cert of
//! admission webhooks on loopback (KServe's, in the real-components suite), written as PEM files into
//! the environment's temp dir.
//!
//! The kubelet serving cert is made here, not by whoever runs a fake kubelet, because the CA key never
//! leaves this function: a test process sharing a control plane started elsewhere finds the ready-made
//! cert through [`Pki::in_dir`] instead.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

/// Paths of the generated PEM files.
#[derive(Debug, Clone)]
pub struct Pki {
    pub ca_cert: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub admin_cert: PathBuf,
    pub admin_key: PathBuf,
    pub sa_public_key: PathBuf,
    pub sa_private_key: PathBuf,
    /// Serving cert of every fake kubelet (IP SAN 127.0.0.1), trusted via `--kubelet-certificate-authority`.
    pub kubelet_cert: PathBuf,
    pub kubelet_key: PathBuf,
    /// The apiserver's client identity towards kubelets (`--kubelet-client-certificate`).
    pub kubelet_client_cert: PathBuf,
    pub kubelet_client_key: PathBuf,
    /// Serving cert of webhooks the apiserver calls at `https://127.0.0.1:<port>` (IP SAN 127.0.0.1),
    /// trusted through the `caBundle` of their registration (the CA above).
    pub webhook_cert: PathBuf,
    pub webhook_key: PathBuf,
}

const CA_CERT: &str = "ca.crt";
const SERVER_CERT: &str = "apiserver.crt";
const SERVER_KEY: &str = "apiserver.key";
const ADMIN_CERT: &str = "admin.crt";
const ADMIN_KEY: &str = "admin.key";
const SA_PUBLIC_KEY: &str = "sa.pub";
const SA_PRIVATE_KEY: &str = "sa.key";
const KUBELET_CERT: &str = "kubelet.crt";
const KUBELET_KEY: &str = "kubelet.key";
const KUBELET_CLIENT_CERT: &str = "apiserver-kubelet-client.crt";
const KUBELET_CLIENT_KEY: &str = "apiserver-kubelet-client.key";
const WEBHOOK_CERT: &str = "webhook.crt";
const WEBHOOK_KEY: &str = "webhook.key";

impl Pki {
    /// The paths of a PKI that [`Pki::generate`] wrote into `dir` earlier (maybe in another process).
    pub fn in_dir(dir: &Path) -> Self {
        let path = |name: &str| dir.join(name);
        Self {
            ca_cert: path(CA_CERT),
            server_cert: path(SERVER_CERT),
            server_key: path(SERVER_KEY),
            admin_cert: path(ADMIN_CERT),
            admin_key: path(ADMIN_KEY),
            sa_public_key: path(SA_PUBLIC_KEY),
            sa_private_key: path(SA_PRIVATE_KEY),
            kubelet_cert: path(KUBELET_CERT),
            kubelet_key: path(KUBELET_KEY),
            kubelet_client_cert: path(KUBELET_CLIENT_CERT),
            kubelet_client_key: path(KUBELET_CLIENT_KEY),
            webhook_cert: path(WEBHOOK_CERT),
            webhook_key: path(WEBHOOK_KEY),
        }
    }

    /// Generates every key and certificate into `dir`. Keys are ECDSA P-256 (rcgen's default):
    /// quick to generate, and kube-apiserver accepts them for serving, client auth and for signing
    /// service-account tokens (ES256).
    pub fn generate(dir: &Path) -> Result<Self> {
        let write = |path: &Path, pem: String| -> Result<()> {
            std::fs::write(path, pem).with_context(|| format!("writing {}", path.display()))
        };

        let ca_key = KeyPair::generate()?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "aim-testenv-ca");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let ca = Issuer::new(ca_params, ca_key);

        // The client connects to https://127.0.0.1:<port>; rustls checks the IP SAN.
        let server_key = KeyPair::generate()?;
        let mut server =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        server
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_cert = server.signed_by(&server_key, &ca)?;

        // O=system:masters is bound to cluster-admin by the bootstrap RBAC policy, so the admin
        // identity works with --authorization-mode=RBAC without creating any bindings.
        let admin_key = KeyPair::generate()?;
        let mut admin = CertificateParams::new(Vec::<String>::new())?;
        admin
            .distinguished_name
            .push(DnType::CommonName, "aim-testenv-admin");
        admin
            .distinguished_name
            .push(DnType::OrganizationName, "system:masters");
        admin.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let admin_cert = admin.signed_by(&admin_key, &ca)?;

        let sa_key = KeyPair::generate()?;

        // kube-apiserver dials a kubelet at the node's InternalIP (127.0.0.1 here) and checks the
        // IP SAN against --kubelet-certificate-authority.
        let kubelet_key = KeyPair::generate()?;
        let mut kubelet = CertificateParams::new(vec!["127.0.0.1".to_owned()])?;
        kubelet
            .distinguished_name
            .push(DnType::CommonName, "aim-testenv-kubelet");
        kubelet.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let kubelet_cert = kubelet.signed_by(&kubelet_key, &ca)?;

        // The name a real kubelet's authorizer would see; the fake kubelet only checks the chain.
        let kubelet_client_key = KeyPair::generate()?;
        let mut kubelet_client = CertificateParams::new(Vec::<String>::new())?;
        kubelet_client
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver-kubelet-client");
        kubelet_client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let kubelet_client_cert = kubelet_client.signed_by(&kubelet_client_key, &ca)?;

        // The apiserver calls webhooks registered by `clientConfig.url` at https://127.0.0.1:<port>.
        let webhook_key = KeyPair::generate()?;
        let mut webhook =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
        webhook
            .distinguished_name
            .push(DnType::CommonName, "aim-testenv-webhook");
        webhook.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let webhook_cert = webhook.signed_by(&webhook_key, &ca)?;

        let paths = Self::in_dir(dir);
        write(&paths.ca_cert, ca_cert.pem())?;
        write(&paths.server_cert, server_cert.pem())?;
        write(&paths.server_key, server_key.serialize_pem())?;
        write(&paths.admin_cert, admin_cert.pem())?;
        write(&paths.admin_key, admin_key.serialize_pem())?;
        write(&paths.sa_public_key, sa_key.public_key_pem())?;
        write(&paths.sa_private_key, sa_key.serialize_pem())?;
        write(&paths.kubelet_cert, kubelet_cert.pem())?;
        write(&paths.kubelet_key, kubelet_key.serialize_pem())?;
        write(&paths.kubelet_client_cert, kubelet_client_cert.pem())?;
        write(
            &paths.kubelet_client_key,
            kubelet_client_key.serialize_pem(),
        )?;
        write(&paths.webhook_cert, webhook_cert.pem())?;
        write(&paths.webhook_key, webhook_key.serialize_pem())?;
        Ok(paths)
    }
}
