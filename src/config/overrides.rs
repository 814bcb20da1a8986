//! The one precedence rule of the configuration: the file (or the embedded default) < the environment < the
//! flags. The command line's flags already carry the environment (clap's `env =`, each name declared once in
//! `config::env`), so [`resolve`] lays them over the checked file; `up` and `doctor` both go through it, so
//! both see the configuration `up` runs with. Must never read the environment or the flags itself.
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::common::{check_url, err};
use super::{Config, ConfigErrors, Secret};

/// What the command line (flags, or the environment variables behind them) sets over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--web-root`: over `[web] root`.
    pub web_root: Option<PathBuf>,
    /// `--web-tls-cert` and `--web-tls-key`: over `[web] tls_cert` and `tls_key`.
    pub web_tls: Option<(PathBuf, PathBuf)>,
    /// `--web-redirect-listen`: over `[web] redirect_listen`.
    pub web_redirect_listen: Option<SocketAddr>,
    /// `--allow-plaintext-public`: turns `[web] allow_plaintext_public` on (never off).
    pub allow_plaintext_public: bool,
    /// `--redis-url`: over `[gateway] redis_url`.
    pub redis_url: Option<Secret>,
    /// `--internal-listen`: over `[cluster] internal_listen` (needs `[cluster]`).
    pub internal_listen: Option<SocketAddr>,
    /// `--internal-url`: over `[cluster] internal_url` (ignored without `[cluster]`).
    pub internal_url: Option<String>,
}

/// The configuration a command runs with: the file at `file` (or the embedded default) with `overrides` on top.
pub fn resolve(file: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigErrors> {
    let mut config = match file {
        Some(path) => Config::load(path)?,
        None => Config::default(),
    };
    overrides.apply(&mut config)?;
    Ok(config)
}

impl Overrides {
    /// Lays the overrides over a checked configuration; an error names the flag.
    pub fn apply(&self, c: &mut Config) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        if let Some(root) = &self.web_root {
            c.web.root = Some(root.clone());
        }
        if let Some((cert, key)) = &self.web_tls {
            c.web.tls_cert = Some(cert.clone());
            c.web.tls_key = Some(key.clone());
        }
        if let Some(r) = self.web_redirect_listen {
            c.web.redirect_listen = Some(r);
        }
        c.web.allow_plaintext_public |= self.allow_plaintext_public;
        if let Some(url) = &self.redis_url {
            c.rate_limits.redis_url = Some(url.clone());
        }
        match &mut c.cluster {
            None if self.internal_listen.is_some() => err(
                &mut errors,
                "--internal-listen",
                "needs [cluster] shared_secret_file in the configuration",
            ),
            None => {}
            Some(cluster) => {
                if let Some(l) = self.internal_listen {
                    cluster.internal_listen = Some(l);
                }
                if let Some(u) = &self.internal_url {
                    if let Some(u) = check_url(&mut errors, "--internal-url", u) {
                        cluster.internal_url = Some(u.trimmed());
                    }
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLUSTER: &str =
        "version = 1\n[web]\nroot = \"file-root\"\n[gateway]\nredis_url = \"redis://file:6379\"\n\
        [cluster]\ninternal_listen = \"10.0.0.1:4010\"\ninternal_url = \"http://10.0.0.1:4010\"\n\
        shared_secret_file = \"/s\"\n";

    #[test]
    fn flags_win_over_the_file_and_the_file_over_the_defaults() {
        let mut c = Config::from_toml(CLUSTER).unwrap();
        Overrides::default().apply(&mut c).unwrap();
        assert_eq!(c, Config::from_toml(CLUSTER).unwrap(), "no flags: the file");
        let o = Overrides {
            web_root: Some("flag-root".into()),
            web_tls: Some(("c.pem".into(), "k.pem".into())),
            web_redirect_listen: Some("127.0.0.1:80".parse().unwrap()),
            allow_plaintext_public: true,
            redis_url: Some(Secret::new("redis://flag:6379")),
            internal_listen: Some("10.0.0.2:4010".parse().unwrap()),
            internal_url: Some("http://10.0.0.2:4010/".into()),
        };
        o.apply(&mut c).unwrap();
        assert_eq!(c.web.root, Some(PathBuf::from("flag-root")));
        assert_eq!(c.web.tls_key, Some(PathBuf::from("k.pem")));
        assert_eq!(c.web.redirect_listen, o.web_redirect_listen);
        assert!(c.web.allow_plaintext_public);
        assert_eq!(c.rate_limits.redis_url, o.redis_url);
        let cluster = c.cluster.unwrap();
        assert_eq!(cluster.internal_listen, o.internal_listen);
        assert_eq!(
            cluster.internal_url.as_deref(),
            Some("http://10.0.0.2:4010")
        );
    }

    #[test]
    fn a_flag_that_cannot_apply_names_itself() {
        let mut c = Config::default();
        let o = Overrides {
            internal_listen: Some("127.0.0.1:0".parse().unwrap()),
            ..Overrides::default()
        };
        let e = o.apply(&mut c).unwrap_err();
        assert_eq!(e.0[0].key, "--internal-listen");
        assert!(e.to_string().contains("shared_secret_file"), "{e}");
        let mut c = Config::from_toml(CLUSTER).unwrap();
        let o = Overrides {
            internal_url: Some("ftp://x".into()),
            ..Overrides::default()
        };
        assert_eq!(o.apply(&mut c).unwrap_err().0[0].key, "--internal-url");
        let mut c = Config::default();
        Overrides {
            internal_url: Some("ftp://x".into()),
            ..Overrides::default()
        }
        .apply(&mut c)
        .unwrap();
        assert!(c.cluster.is_none(), "--internal-url alone changes nothing");
    }

    #[test]
    fn resolve_reads_the_file_or_the_default_and_lays_the_flags_over_it() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("g.toml");
        std::fs::write(&f, "version = 1\n[web]\nroot = \"dist\"\n").unwrap();
        let c = resolve(Some(&f), &Overrides::default()).unwrap();
        assert_eq!(
            c.web.root,
            Some(tmp.path().join("dist")),
            "relative to the file"
        );
        let flags = Overrides {
            web_root: Some("/srv/app".into()),
            ..Overrides::default()
        };
        let c = resolve(Some(&f), &flags).unwrap();
        assert_eq!(c.web.root, Some(PathBuf::from("/srv/app")), "the flag wins");
        assert_eq!(
            resolve(None, &Overrides::default()).unwrap(),
            Config::default()
        );
        let e = resolve(Some(&tmp.path().join("missing.toml")), &flags).unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
    }
}
