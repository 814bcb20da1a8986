//! TLS for the web listener: a rustls server configuration (aws-lc-rs provider, TLS 1.2 and 1.3, HTTP/1.1 by
//! ALPN) from a PEM certificate chain and a PEM private key. Loaded once at start. Must never log or print key
//! material.
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate or key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("web.tls_cert {0}: {1}")]
    Cert(PathBuf, String),
    #[error("web.tls_key {0}: {1}")]
    Key(PathBuf, String),
    #[error("web.tls_cert/web.tls_key: {0}")]
    Config(String),
}

/// Reads the PEM files and builds the acceptor.
pub fn acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Cert(cert.to_path_buf(), e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Cert(cert.to_path_buf(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Cert(
            cert.to_path_buf(),
            "no PEM CERTIFICATE block found".into(),
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        TlsError::Key(
            key.to_path_buf(),
            format!("{e} (expected a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)"),
        )
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| {
            TlsError::Config(format!(
                "{e} (does the key belong to the first certificate?)"
            ))
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
