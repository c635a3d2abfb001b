//! What every outbound connection of a service trusts and how it is built: the built-in web PKI
//! roots plus the operator's own CA (`HEARTH_CA_CERTS`, e.g. Caddy's `tls internal` CA or a
//! company CA on a private network). Both the guarded client and the operator client (PLC
//! directory, configured firehoses, the configured AppView), and the firehose WebSocket client,
//! are built here, so a CA given once is trusted everywhere. Verification is never turned off.

use crate::{Config, NetError};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::Path;
use std::sync::Arc;

/// The certificates in the operator's PEM file, or a setup error naming the file.
fn load_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let setup = |why: String| NetError::Setup(format!("{}: {why}", path.display()));
    let pem = std::fs::read(path).map_err(|e| setup(e.to_string()))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| setup(e.to_string()))?;
    if certs.is_empty() {
        return Err(setup("no certificates in the file".into()));
    }
    Ok(certs)
}

impl Config {
    /// The extra roots, read from `ca_certs` (none when unset).
    fn extra_roots(&self) -> Result<Vec<CertificateDer<'static>>, NetError> {
        self.ca_certs.as_deref().map_or(Ok(Vec::new()), load_ca)
    }

    /// The one place an outbound HTTP client starts: user agent, time limits and trusted
    /// roots. The guarded client adds its address checks on top.
    pub(crate) fn client_builder(&self) -> Result<reqwest::ClientBuilder, NetError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(&self.user_agent)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout);
        for der in self.extra_roots()? {
            let cert = reqwest::Certificate::from_der(&der)
                .map_err(|e| NetError::Setup(format!("CA certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        Ok(builder)
    }

    /// The client for URLs the operator configured (the PLC directory, the AppView a PDS
    /// forwards to, firehose hosts): ordinary DNS and any address, since the operator chose
    /// them, with the same trusted roots as every other client.
    pub fn operator_client(&self) -> Result<reqwest::Client, NetError> {
        self.client_builder()?
            .build()
            .map_err(|e| NetError::Setup(e.to_string()))
    }

    /// TLS for WebSocket clients (`wss://` firehoses): the web PKI roots plus the operator's.
    pub fn websocket_tls(&self) -> Result<tokio_tungstenite::Connector, NetError> {
        let mut roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        for der in self.extra_roots()? {
            roots
                .add(der)
                .map_err(|e| NetError::Setup(format!("CA certificate: {e}")))?;
        }
        // Ring is the provider reqwest's rustls uses too; naming it keeps the choice out of
        // the process-wide default.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| NetError::Setup(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(tokio_tungstenite::Connector::Rustls(Arc::new(tls)))
    }
}
