//! The flags `up` and `doctor` share, so that `doctor` is given exactly what `up` is: the four listen addresses
//! and the web listener's flags that override `[web]`. Declares flags only; the precedence over the file is
//! `config::resolve`.
use std::net::SocketAddr;
use std::path::PathBuf;

/// The listen addresses.
#[derive(Debug, Clone, clap::Args)]
pub struct ListenArgs {
    /// Web listener, HOST:PORT (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:4000")]
    pub web_listen: SocketAddr,
    /// Identity-provider listener, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:4001")]
    pub idp_listen: SocketAddr,
    /// Runtime-gateway listener, HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:4002")]
    pub gateway_listen: SocketAddr,
    /// Admin listener for /metrics and /healthz, HOST:PORT (keep it on loopback or a private network).
    #[arg(long, default_value = "127.0.0.1:4003")]
    pub admin_listen: SocketAddr,
}

impl ListenArgs {
    /// The addresses as `doctor` judges them.
    pub fn listeners(&self) -> crate::doctor::Listeners {
        crate::doctor::Listeners {
            web: self.web_listen,
            idp: self.idp_listen,
            gateway: self.gateway_listen,
            admin: self.admin_listen,
        }
    }
}

/// The web listener's flags that override `[web]`.
#[derive(Debug, Clone, clap::Args)]
pub struct WebArgs {
    /// PEM certificate chain for the web listener (with --web-tls-key; overrides [web] tls_cert): it then speaks
    /// HTTPS only.
    #[arg(long, requires = "web_tls_key")]
    pub web_tls_cert: Option<PathBuf>,
    /// PEM private key for --web-tls-cert (overrides [web] tls_key).
    #[arg(long, requires = "web_tls_cert")]
    pub web_tls_key: Option<PathBuf>,
    /// A plain-HTTP listener, HOST:PORT, that answers every request with 308 to [web] public_url (needs TLS;
    /// overrides [web] redirect_listen).
    #[arg(long)]
    pub web_redirect_listen: Option<SocketAddr>,
    /// Serve plain HTTP on a non-loopback --web-listen (only when a TLS proxy on a private network is in front;
    /// `doctor` still reports it as a failing control).
    #[arg(long)]
    pub allow_plaintext_public: bool,
}

impl WebArgs {
    /// These flags as overrides of the file (the other fields empty).
    pub fn overrides(&self) -> crate::config::Overrides {
        crate::config::Overrides {
            web_tls: self.web_tls_cert.clone().zip(self.web_tls_key.clone()),
            web_redirect_listen: self.web_redirect_listen,
            allow_plaintext_public: self.allow_plaintext_public,
            ..crate::config::Overrides::default()
        }
    }
}
