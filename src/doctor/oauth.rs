//! The OAuth controls of `doctor`: who may add clients (`registration`: open dynamic registration fails), what
//! a metadata-document fetch may reach (`metadata-documents`: private hosts allowed fails), the clients'
//! redirect URIs (`redirect-uris`: plain http off loopback; `wildcard-callbacks`: `*` in a host or path), and
//! confidential clients whose secret was never rotated (`secret-rotation`: a secret older than
//! [`MAX_SECRET_AGE_SECS`]). Pure: judges `Facts`; must never print a secret.
use super::{Check, Facts, OAuthClientFact, MAX_SECRET_AGE_SECS};
use crate::config::idp_oauth::Registration;
use crate::config::Config;
use crate::idp::oauth::redirect::{validate_registered, UrlError};

pub(super) fn registration(c: &Config, out: &mut Vec<Check>) {
    let o = &c.idp.oauth;
    match o.dynamic_client_registration {
        Registration::Open => out.push(Check::fail(
            "registration",
            "idp.oauth",
            "dynamic_client_registration = \"open\": anyone can register clients at /oauth2/register, \
             confidential client_credentials clients included",
            "set [idp.oauth] dynamic_client_registration = \"token\" and hand out initial access tokens with \
             `gatehouse client registration-token create`, or \"off\"",
        )),
        mode => out.push(Check::pass(
            "registration",
            "idp.oauth",
            format!(
                "dynamic_client_registration = \"{}\"{}",
                mode.as_str(),
                if mode == Registration::Token {
                    ": registrations need an initial access token"
                } else {
                    ""
                }
            ),
        )),
    }
    if o.client_id_metadata_documents && o.allow_private_metadata_hosts {
        out.push(Check::fail(
            "metadata-docs",
            "idp.oauth",
            "allow_private_metadata_hosts = true: any https client_id makes the server fetch from loopback \
             and private networks",
            "set [idp.oauth] allow_private_metadata_hosts = false outside tests and labs",
        ));
    } else {
        out.push(Check::pass(
            "metadata-docs",
            "idp.oauth",
            if o.client_id_metadata_documents {
                "metadata documents are fetched from public addresses only"
            } else {
                "client_id_metadata_documents is off"
            },
        ));
    }
}

/// Every callback and logout URL of a client.
fn urls(c: &OAuthClientFact) -> impl Iterator<Item = &String> {
    c.callback_urls.iter().chain(c.logout_urls.iter())
}

/// Whether `url` has a `*` in its host or path.
fn wildcard(url: &str) -> bool {
    url.contains('*') || validate_registered(url) == Err(UrlError::Wildcard)
}

fn per_client(
    f: &Facts,
    out: &mut Vec<Check>,
    control: &'static str,
    bad: impl Fn(&OAuthClientFact) -> Option<String>,
    fix: &str,
    all_good: &str,
) {
    let mut any = false;
    for c in &f.oauth_clients {
        if let Some(detail) = bad(c) {
            any = true;
            out.push(Check::fail(control, c.name.clone(), detail, fix));
        }
    }
    if !any {
        out.push(Check::pass(control, "clients", all_good));
    }
}

pub(super) fn clients(f: &Facts, out: &mut Vec<Check>) {
    per_client(
        f,
        out,
        "redirect-uris",
        |c| {
            let plain: Vec<&str> = urls(c)
                .filter(|u| validate_registered(u) == Err(UrlError::PlainHttp))
                .map(String::as_str)
                .collect();
            (!plain.is_empty()).then(|| {
                format!(
                    "client {} redirects over plain http off loopback: {}",
                    c.id,
                    plain.join(", ")
                )
            })
        },
        "register https redirect URIs (plain http only on 127.0.0.1, [::1] or localhost): create the client \
         again with --callback-url https://… and delete this one",
        "no redirect URI is plain http off loopback",
    );
    per_client(
        f,
        out,
        "wildcard-callbacks",
        |c| {
            let wild: Vec<&str> = urls(c)
                .filter(|u| wildcard(u))
                .map(String::as_str)
                .collect();
            (!wild.is_empty()).then(|| {
                format!(
                    "client {} has wildcard-like redirect URIs: {}",
                    c.id,
                    wild.join(", ")
                )
            })
        },
        "register each exact redirect URI instead of a pattern: create the client again and delete this one",
        "no redirect URI holds a wildcard",
    );
    per_client(
        f,
        out,
        "secret-rotation",
        |c| {
            if !c.confidential {
                return None;
            }
            let since = c.secret_created_at.unwrap_or(c.created_at);
            let age = f.now_unix - since;
            (age > MAX_SECRET_AGE_SECS).then(|| {
                format!(
                    "client {}'s secret is {} days old (never rotated; limit {} days)",
                    c.id,
                    age / 86_400,
                    MAX_SECRET_AGE_SECS / 86_400
                )
            })
        },
        "replace the secret: create a new client with `gatehouse client create --secret`, move the application \
         to it, then `gatehouse client delete` the old one",
        "every client secret is younger than 90 days",
    );
}
