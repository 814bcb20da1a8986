//! TLS for every listener that terminates it (web, IdP, gateway): a rustls server configuration (aws-lc-rs
//! provider, TLS 1.2 and 1.3, HTTP/1.1 by ALPN) whose certificate comes from a PEM chain and a PEM private key,
//! re-read without a restart: [`CertFiles::watch`] looks at both files every [`RELOAD_POLL`] and swaps in the new
//! pair once it loads (a half-written or mismatched pair is logged and the pair in service stays). Must never
//! log or print key material.
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// How often the certificate and key files are looked at for changes.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

/// Why the certificate or key cannot be used; `section` is the configuration table (`web`, `idp`, `gateway`).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{0}.tls_cert {1}: {2}")]
    Cert(&'static str, PathBuf, String),
    #[error("{0}.tls_key {1}: {2}")]
    Key(&'static str, PathBuf, String),
    #[error("{0}.tls_cert/{0}.tls_key: {1}")]
    Config(&'static str, String),
}

/// What identifies one version of the files (modification time, size, inode of each).
type Stamp = Option<[(SystemTime, u64, u64); 2]>;

fn stamp(cert: &Path, key: &Path) -> Stamp {
    use std::os::unix::fs::MetadataExt as _;
    let one = |p: &Path| {
        let m = std::fs::metadata(p).ok()?;
        Some((m.modified().ok()?, m.len(), m.ino()))
    };
    Some([one(cert)?, one(key)?])
}

/// A listener's certificate files and the pair in service (the rustls certificate resolver).
#[derive(Debug)]
pub struct CertFiles {
    section: &'static str,
    cert: PathBuf,
    key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
    /// The files' stamp when last looked at (loaded or refused), so a broken pair is reported once.
    seen: Mutex<Stamp>,
}

fn load_pair(section: &'static str, cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| TlsError::Cert(section, cert.to_path_buf(), e.to_string()))?
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Cert(section, cert.to_path_buf(), e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Cert(
            section,
            cert.to_path_buf(),
            "no PEM CERTIFICATE block found".into(),
        ));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        TlsError::Key(
            section,
            key.to_path_buf(),
            format!("{e} (expected a PEM PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY block)"),
        )
    })?;
    CertifiedKey::from_der(certs, key_der, &provider()).map_err(|e| {
        TlsError::Config(
            section,
            format!("{e} (does the key belong to the first certificate?)"),
        )
    })
}

fn provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

impl CertFiles {
    /// Reads the PEM files once; `section` names the configuration table in errors.
    pub fn load(section: &'static str, cert: &Path, key: &Path) -> Result<Arc<Self>, TlsError> {
        let seen = stamp(cert, key);
        let pair = load_pair(section, cert, key)?;
        Ok(Arc::new(Self {
            section,
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            current: RwLock::new(Arc::new(pair)),
            seen: Mutex::new(seen),
        }))
    }

    /// The acceptor serving whatever pair is current at each handshake.
    pub fn acceptor(self: &Arc<Self>) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config(self.section, e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
    }

    /// Re-reads the files if they changed since last looked at. `Ok(true)`: a new pair is in service;
    /// `Err`: they changed but do not load (the old pair stays; reported once per change).
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let now = stamp(&self.cert, &self.key);
        {
            let Ok(mut seen) = self.seen.lock() else {
                return Ok(false);
            };
            if *seen == now {
                return Ok(false);
            }
            *seen = now;
        }
        let pair = load_pair(self.section, &self.cert, &self.key)?;
        if let Ok(mut cur) = self.current.write() {
            *cur = Arc::new(pair);
        }
        Ok(true)
    }

    /// Looks at the files every [`RELOAD_POLL`] until `stop` turns true.
    pub async fn watch(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(RELOAD_POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => return,
            }
            let me = self.clone();
            match tokio::task::spawn_blocking(move || me.reload_if_changed()).await {
                Ok(Ok(true)) => tracing::info!(
                    listener = self.section,
                    cert = %self.cert.display(),
                    "TLS certificate reloaded"
                ),
                Ok(Ok(false)) | Err(_) => {}
                Ok(Err(e)) => tracing::warn!(
                    listener = self.section,
                    error = %e,
                    "the changed TLS certificate files do not load; still serving the previous pair"
                ),
            }
        }
    }
}

impl ResolvesServerCert for CertFiles {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

/// Reads the web listener's PEM files and builds an acceptor (no reloading; `doctor` uses it to check a pair).
pub fn acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    CertFiles::load("web", cert, key)?.acceptor()
}
