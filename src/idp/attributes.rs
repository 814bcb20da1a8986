//! The user pool's attribute schema at request time: which attributes a user may write (standard ones, and
//! `custom:*` only when declared in `[[idp.custom_attribute]]`, with its type, bounds and mutability), which an
//! app client may write or read (`[[idp.app_client]]`), and the total size of a user's attributes. Reads
//! (`GetUser`, ID-token claims) pass through `readable`, so that an undeclared or unreadable attribute never
//! becomes a claim. Must never log a value.
use serde_json::{Map, Value};

use super::CognitoError;
use crate::config::idp_policy::STANDARD_ATTRIBUTES as STANDARD;
use crate::config::idp_policy::{AttributeKind, IdpPolicy};
use crate::store::ClientId;

/// Most bytes of one user's attributes (their JSON object), beyond the e-mail address.
pub const MAX_ATTRIBUTES_BYTES: usize = 16 * 1024;

fn schema_error(name: &str, why: &str) -> CognitoError {
    CognitoError::InvalidParameter(format!(
        "Attributes did not conform to the schema: {name}: {why}"
    ))
}

/// Checks that `client_id` may write `name` = `value`. `creating`: during `SignUp` (immutable attributes may
/// be set only then).
pub fn check_write(
    policy: &IdpPolicy,
    client_id: &ClientId,
    name: &str,
    value: &str,
    creating: bool,
) -> Result<(), CognitoError> {
    if let Some(custom) = policy.custom_attributes.iter().find(|c| c.name == name) {
        if !custom.mutable && !creating {
            return Err(CognitoError::NotAuthorized(format!(
                "Cannot modify an immutable or non-writable attribute: {name}"
            )));
        }
        match custom.kind {
            AttributeKind::String => {
                let n = value.chars().count();
                if n < custom.min_length as usize || n > custom.max_length as usize {
                    return Err(schema_error(
                        name,
                        &format!(
                            "The value must be {} to {} characters",
                            custom.min_length, custom.max_length
                        ),
                    ));
                }
            }
            AttributeKind::Number => {
                let in_range = value.parse::<i64>().is_ok_and(|v| {
                    custom.min_value.is_none_or(|lo| v >= lo)
                        && custom.max_value.is_none_or(|hi| v <= hi)
                });
                if !in_range || value.len() > custom.max_length as usize {
                    return Err(schema_error(
                        name,
                        "The value must be a number within the bounds",
                    ));
                }
            }
        }
    } else if name.starts_with("custom:") {
        return Err(schema_error(
            name,
            "The attribute is not defined in the schema",
        ));
    } else if !STANDARD.contains(&name) {
        return Err(schema_error(name, "The attribute cannot be set"));
    }
    let client = policy
        .app_clients
        .iter()
        .find(|c| c.client_id == *client_id);
    if let Some(write) = client.and_then(|c| c.write.as_ref()) {
        if !write.iter().any(|w| w == name) {
            return Err(CognitoError::NotAuthorized(
                "A client attempted to write unauthorized attribute".into(),
            ));
        }
    }
    Ok(())
}

/// Whether `client_id` may read `name` (standard attributes, declared custom ones, within the client's list).
pub fn readable(policy: &IdpPolicy, client_id: &ClientId, name: &str) -> bool {
    if name.starts_with("custom:") && !policy.custom_attributes.iter().any(|c| c.name == name) {
        return false;
    }
    match policy
        .app_clients
        .iter()
        .find(|c| c.client_id == *client_id)
        .and_then(|c| c.read.as_ref())
    {
        Some(read) => read.iter().any(|r| r == name),
        None => true,
    }
}

/// The user's stored attributes that `client_id` may read.
pub fn readable_map(policy: &IdpPolicy, client_id: &ClientId, stored: &str) -> Map<String, Value> {
    match serde_json::from_str::<Value>(stored) {
        Ok(Value::Object(m)) => m
            .into_iter()
            .filter(|(k, _)| readable(policy, client_id, k))
            .collect(),
        _ => Map::new(),
    }
}

/// Refuses an attribute object larger than `MAX_ATTRIBUTES_BYTES`.
pub fn check_size(attrs: &Map<String, Value>) -> Result<String, CognitoError> {
    let text = Value::Object(attrs.clone()).to_string();
    if text.len() > MAX_ATTRIBUTES_BYTES {
        return Err(CognitoError::InvalidParameter(format!(
            "The user's attributes would exceed {MAX_ATTRIBUTES_BYTES} bytes."
        )));
    }
    Ok(text)
}

/// Checks an e-mail address's shape.
pub fn check_email(value: &str) -> Result<(), CognitoError> {
    if !value.contains('@') || value.len() > 254 || value.chars().any(char::is_whitespace) {
        return Err(CognitoError::InvalidParameter(
            "Invalid email address format.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::idp_policy::{AppClientAttributes, CustomAttribute};

    fn policy() -> IdpPolicy {
        IdpPolicy {
            custom_attributes: vec![
                CustomAttribute {
                    name: "custom:tenant".into(),
                    kind: AttributeKind::String,
                    mutable: false,
                    min_length: 1,
                    max_length: 8,
                    min_value: None,
                    max_value: None,
                },
                CustomAttribute {
                    name: "custom:seats".into(),
                    kind: AttributeKind::Number,
                    mutable: true,
                    min_length: 0,
                    max_length: 10,
                    min_value: Some(1),
                    max_value: Some(100),
                },
            ],
            app_clients: vec![AppClientAttributes {
                client_id: "narrow".into(),
                read: Some(vec!["email".into()]),
                write: Some(vec!["name".into()]),
            }],
            ..IdpPolicy::default()
        }
    }

    #[test]
    fn only_declared_custom_attributes_within_their_bounds() {
        let p = policy();
        assert!(check_write(&p, &"c".into(), "custom:tenant", "t1", true).is_ok());
        assert!(
            check_write(&p, &"c".into(), "custom:tenant", "t1", false).is_err(),
            "immutable"
        );
        assert!(check_write(&p, &"c".into(), "custom:tenant", "much-too-long", true).is_err());
        assert!(check_write(&p, &"c".into(), "custom:seats", "5", false).is_ok());
        assert!(check_write(&p, &"c".into(), "custom:seats", "500", false).is_err());
        assert!(check_write(&p, &"c".into(), "custom:seats", "five", false).is_err());
        assert!(
            check_write(&p, &"c".into(), "custom:role", "admin", true).is_err(),
            "undeclared"
        );
        assert!(check_write(&p, &"c".into(), "cognito:groups", "admin", true).is_err());
        assert!(check_write(&p, &"c".into(), "name", "Alice", false).is_ok());
    }

    #[test]
    fn per_client_lists_apply_to_reads_and_writes() {
        let p = policy();
        assert!(check_write(&p, &"narrow".into(), "name", "A", false).is_ok());
        assert!(matches!(
            check_write(&p, &"narrow".into(), "custom:seats", "5", false),
            Err(CognitoError::NotAuthorized(_))
        ));
        assert!(readable(&p, &"narrow".into(), "email"));
        assert!(!readable(&p, &"narrow".into(), "custom:tenant"));
        assert!(readable(&p, &"wide".into(), "custom:tenant"));
        assert!(
            !readable(&p, &"wide".into(), "custom:role"),
            "undeclared never read"
        );
        let m = readable_map(
            &p,
            &"wide".into(),
            r#"{"custom:role":"admin","custom:tenant":"t"}"#,
        );
        assert_eq!(m.len(), 1);
    }
}
