//! The user pool's policy keys of `[idp]`: whether anyone may sign up (Cognito's `AllowAdminCreateUserOnly`),
//! the custom attributes of the schema (`[[idp.custom_attribute]]`: name, type, mutable, length or value
//! bounds), each app client's readable and writable attributes (`[[idp.app_client]]`), and the limits of the
//! unauthenticated flows (CPU-heavy steps per address, code issuance per address and per user, wrong codes
//! before a lockout). Checked at load; every error names its key. Owns no runtime behaviour.
use std::time::Duration;

use serde::Deserialize;

use super::common::{at_least_one, or_default, seconds};
use super::{err, ConfigError, RawIdp};

/// The standard attributes of Cognito's default schema that a user may set.
pub const STANDARD_ATTRIBUTES: &[&str] = &[
    "email",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "address",
    "updated_at",
];

/// `[[idp.custom_attribute]]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCustomAttribute {
    /// Without the `custom:` prefix.
    pub name: Option<String>,
    /// `String` (default) or `Number`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Whether users may change it after sign-up (default true).
    pub mutable: Option<bool>,
    pub min_length: Option<u32>,
    pub max_length: Option<u32>,
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
}

/// `[[idp.app_client]]`: the attributes one app client may read and write.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAppClient {
    pub client_id: Option<String>,
    pub read_attributes: Option<Vec<String>>,
    pub write_attributes: Option<Vec<String>>,
}

/// A declared custom attribute's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttributeKind {
    String,
    Number,
}

/// A checked custom attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomAttribute {
    /// With the `custom:` prefix.
    pub name: String,
    pub kind: AttributeKind,
    pub mutable: bool,
    /// String: characters; Number: not used.
    pub min_length: u32,
    pub max_length: u32,
    /// Number only.
    pub min_value: Option<i64>,
    pub max_value: Option<i64>,
}

/// A checked `[[idp.app_client]]`; `None` lists mean every attribute of the schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppClientAttributes {
    pub client_id: String,
    pub read: Option<Vec<String>>,
    pub write: Option<Vec<String>>,
}

/// The checked policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpPolicy {
    /// `false`: `SignUp` is refused; only the CLI creates users.
    pub allow_sign_up: bool,
    pub max_cpu_heavy_per_ip_per_minute: u32,
    pub max_codes_per_ip_per_hour: u32,
    pub max_codes_per_user_per_hour: u32,
    pub max_code_failures_per_hour: u32,
    /// `code_lockout_secs`.
    pub code_lockout: Duration,
    pub custom_attributes: Vec<CustomAttribute>,
    pub app_clients: Vec<AppClientAttributes>,
}

impl Default for IdpPolicy {
    fn default() -> Self {
        Self {
            allow_sign_up: true,
            max_cpu_heavy_per_ip_per_minute: 600,
            max_codes_per_ip_per_hour: 100,
            max_codes_per_user_per_hour: 5,
            max_code_failures_per_hour: 10,
            code_lockout: Duration::from_secs(900),
            custom_attributes: Vec::new(),
            app_clients: Vec::new(),
        }
    }
}

/// Cognito's limit on custom attributes per pool.
pub const MAX_CUSTOM_ATTRIBUTES: usize = 50;

fn valid_custom_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 20
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn check_custom(
    errors: &mut Vec<ConfigError>,
    i: usize,
    raw: &RawCustomAttribute,
) -> CustomAttribute {
    let key = |k: &str| format!("idp.custom_attribute[{i}].{k}");
    let name = raw.name.clone().unwrap_or_default();
    let name = name.strip_prefix("custom:").unwrap_or(&name).to_string();
    if !valid_custom_name(&name) {
        err(
            errors,
            key("name"),
            "missing or invalid: 1 to 20 of A-Z a-z 0-9 _ - (without the custom: prefix)",
        );
    }
    let kind = match raw.kind.as_deref().unwrap_or("String") {
        "String" => AttributeKind::String,
        "Number" => AttributeKind::Number,
        _ => {
            err(errors, key("type"), "must be \"String\" or \"Number\"");
            AttributeKind::String
        }
    };
    let min_length = raw.min_length.unwrap_or(0);
    let max_length = raw.max_length.unwrap_or(256);
    if !(1..=2048).contains(&max_length) {
        err(errors, key("max_length"), "must be 1 to 2048");
    }
    if min_length > max_length {
        err(errors, key("min_length"), "must not exceed max_length");
    }
    if kind == AttributeKind::String && (raw.min_value.is_some() || raw.max_value.is_some()) {
        err(
            errors,
            key("min_value"),
            "min_value / max_value apply to type = \"Number\" only",
        );
    }
    if let (Some(lo), Some(hi)) = (raw.min_value, raw.max_value) {
        if lo > hi {
            err(errors, key("min_value"), "must not exceed max_value");
        }
    }
    CustomAttribute {
        name: format!("custom:{name}"),
        kind,
        mutable: raw.mutable.unwrap_or(true),
        min_length,
        max_length,
        min_value: raw.min_value,
        max_value: raw.max_value,
    }
}

fn check_list(
    errors: &mut Vec<ConfigError>,
    key: String,
    list: &Option<Vec<String>>,
    known: &dyn Fn(&str) -> bool,
) -> Option<Vec<String>> {
    let list = list.as_ref()?;
    for a in list {
        if !known(a) {
            err(
                errors,
                key.clone(),
                format!("{a} is neither a standard attribute nor a declared custom attribute"),
            );
        }
    }
    Some(list.clone())
}

/// Checks the policy keys.
pub fn check(errors: &mut Vec<ConfigError>, raw: &RawIdp) -> IdpPolicy {
    let d = IdpPolicy::default();
    let code_lockout = seconds(
        errors,
        "idp.code_lockout_secs",
        &raw.code_lockout_secs,
        86_400,
    );
    at_least_one(
        errors,
        &[
            (
                "idp.max_codes_per_user_per_hour",
                raw.max_codes_per_user_per_hour,
            ),
            (
                "idp.max_codes_per_ip_per_hour",
                raw.max_codes_per_ip_per_hour,
            ),
            (
                "idp.max_code_failures_per_hour",
                raw.max_code_failures_per_hour,
            ),
        ],
    );
    let custom = check_schema(errors, &raw.custom_attribute);
    let app_clients = check_app_clients(errors, &raw.app_client, &custom);
    IdpPolicy {
        allow_sign_up: or_default!(raw, d, allow_sign_up),
        max_cpu_heavy_per_ip_per_minute: or_default!(raw, d, max_cpu_heavy_per_ip_per_minute),
        max_codes_per_ip_per_hour: or_default!(raw, d, max_codes_per_ip_per_hour),
        max_codes_per_user_per_hour: or_default!(raw, d, max_codes_per_user_per_hour),
        max_code_failures_per_hour: or_default!(raw, d, max_code_failures_per_hour),
        code_lockout: code_lockout.unwrap_or(d.code_lockout),
        custom_attributes: custom,
        app_clients,
    }
}

/// `[[idp.custom_attribute]]`: each checked, at most [`MAX_CUSTOM_ATTRIBUTES`], no name twice.
fn check_schema(errors: &mut Vec<ConfigError>, raw: &[RawCustomAttribute]) -> Vec<CustomAttribute> {
    if raw.len() > MAX_CUSTOM_ATTRIBUTES {
        err(
            errors,
            "idp.custom_attribute",
            format!("at most {MAX_CUSTOM_ATTRIBUTES} custom attributes (Cognito's limit)"),
        );
    }
    let custom: Vec<CustomAttribute> = raw
        .iter()
        .enumerate()
        .map(|(i, c)| check_custom(errors, i, c))
        .collect();
    for (i, c) in custom.iter().enumerate() {
        if custom[..i].iter().any(|o| o.name == c.name) {
            err(
                errors,
                format!("idp.custom_attribute[{i}].name"),
                format!("{} is declared twice", c.name),
            );
        }
    }
    custom
}

/// `[[idp.app_client]]`: each list names only attributes of the schema; `email_verified` is never writable.
fn check_app_clients(
    errors: &mut Vec<ConfigError>,
    raw: &[RawAppClient],
    custom: &[CustomAttribute],
) -> Vec<AppClientAttributes> {
    let known = |a: &str| {
        STANDARD_ATTRIBUTES.contains(&a)
            || a == "email_verified"
            || custom.iter().any(|c| c.name == a)
    };
    let mut app_clients = Vec::new();
    for (i, c) in raw.iter().enumerate() {
        let key = |k: &str| format!("idp.app_client[{i}].{k}");
        let client_id = c.client_id.clone().unwrap_or_default();
        if client_id.is_empty() {
            err(errors, key("client_id"), "missing");
        }
        let read = check_list(errors, key("read_attributes"), &c.read_attributes, &known);
        let write = check_list(errors, key("write_attributes"), &c.write_attributes, &known);
        if write
            .as_ref()
            .is_some_and(|w| w.iter().any(|a| a == "email_verified"))
        {
            err(
                errors,
                key("write_attributes"),
                "email_verified cannot be writable",
            );
        }
        app_clients.push(AppClientAttributes {
            client_id,
            read,
            write,
        });
    }
    app_clients
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checked(toml_text: &str) -> (IdpPolicy, Vec<ConfigError>) {
        let raw: RawIdp = toml::from_str(toml_text).unwrap();
        let mut errors = Vec::new();
        let p = check(&mut errors, &raw);
        (p, errors)
    }

    #[test]
    fn defaults_and_a_declared_schema() {
        let (p, e) = checked("");
        assert!(e.is_empty());
        assert_eq!(p, IdpPolicy::default());
        let (p, e) = checked(
            "allow_sign_up = false\n[[custom_attribute]]\nname = \"tenant\"\nmutable = false\nmax_length = 64\n\
             [[app_client]]\nclient_id = \"abc\"\nread_attributes = [\"email\", \"custom:tenant\"]\n\
             write_attributes = [\"name\"]\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert!(!p.allow_sign_up);
        assert_eq!(p.custom_attributes[0].name, "custom:tenant");
        assert!(!p.custom_attributes[0].mutable);
        assert_eq!(
            p.app_clients[0].write.as_deref(),
            Some(&["name".to_string()][..])
        );
    }

    #[test]
    fn errors_name_their_keys() {
        let (_, e) = checked(
            "code_lockout_secs = 0\n[[custom_attribute]]\nname = \"bad name\"\ntype = \"Blob\"\nmax_length = 0\n\
             [[app_client]]\nclient_id = \"c\"\nread_attributes = [\"custom:nope\"]\n",
        );
        let keys: Vec<&str> = e.iter().map(|e| e.key.as_str()).collect();
        for k in [
            "idp.code_lockout_secs",
            "idp.custom_attribute[0].name",
            "idp.custom_attribute[0].type",
            "idp.custom_attribute[0].max_length",
            "idp.app_client[0].read_attributes",
        ] {
            assert!(keys.contains(&k), "{k} in {keys:?}");
        }
    }
}
