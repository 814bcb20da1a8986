//! The AWS JSON 1.1 decoding rules every IdP operation shares: a member whose value is JSON `null` is absent
//! (in structures, maps and lists alike), and a body that does not decode is refused with a message naming the
//! member's path and the kind of error — never the offending value (it may be a password sent with the wrong
//! type). Must never put a request value into an error or the log.
use std::collections::HashMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use super::CognitoError;

/// Cognito's wording for a missing required member.
pub fn null_member(name: &str) -> CognitoError {
    CognitoError::InvalidParameter(format!(
        "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
    ))
}

/// A `map<string, string>` member: `null` as a whole or as an entry's value means absent.
pub fn nullable_map<'de, D>(d: D) -> Result<HashMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let m: Option<HashMap<String, Option<String>>> = Option::deserialize(d)?;
    Ok(m.unwrap_or_default()
        .into_iter()
        .filter_map(|(k, v)| Some((k, v?)))
        .collect())
}

/// A list member: `null` means absent (an empty list).
pub fn nullable_vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let v: Option<Vec<T>> = Option::deserialize(d)?;
    Ok(v.unwrap_or_default())
}

/// The kind of a decoding error, without the value that caused it. serde's messages quote the value
/// (``invalid type: string "hunter2", expected …``); only the text before the value and the expectation after it
/// are kept.
fn kind_of(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax => "malformed JSON".into(),
        Category::Eof => "the JSON ends early".into(),
        Category::Io => "unreadable body".into(),
        Category::Data => {
            let text = e.to_string();
            let head = text
                .split([':', '`'])
                .next()
                .unwrap_or("invalid data")
                .trim();
            let expected = text
                .rsplit_once(", expected ")
                .map(|(_, x)| x.split(" at line ").next().unwrap_or(x).to_string());
            match (head, expected) {
                ("invalid type" | "invalid value" | "invalid length", Some(x)) => {
                    format!("{head}, expected {x}")
                }
                (h @ ("missing field" | "duplicate field"), _) => {
                    // The field name is from the schema, not a value: keep it.
                    let name = text.split('`').nth(1).unwrap_or("");
                    format!("{h} {name}")
                }
                ("unknown variant", _) => "unknown value".into(),
                _ => "invalid data".into(),
            }
        }
    }
}

/// Decodes an operation's body; errors name the member path (`AuthParameters.PASSWORD`) and the kind of error.
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, CognitoError> {
    if body.is_empty() {
        return Err(CognitoError::Serialization(
            "The request body is empty; send a JSON object.".into(),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let kind = kind_of(e.inner());
        let at = if path == "." || path.is_empty() {
            String::new()
        } else {
            format!(" at '{path}'")
        };
        CognitoError::Serialization(format!(
            "The request body is not valid JSON for this operation: {kind}{at}."
        ))
    })?;
    de.end().map_err(|_| {
        CognitoError::Serialization(
            "The request body is not valid JSON for this operation: data after the JSON object."
                .into(),
        )
    })?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Req {
        client_id: Option<String>,
        #[serde(default, deserialize_with = "nullable_map")]
        auth_parameters: HashMap<String, String>,
        #[serde(default, deserialize_with = "nullable_vec")]
        list: Vec<String>,
    }

    #[test]
    fn null_members_are_absent_everywhere() {
        let r: Req = decode(
            br#"{"ClientId": null, "AuthParameters": {"REFRESH_TOKEN": "t", "DEVICE_KEY": null}, "List": null}"#,
        )
        .unwrap();
        assert!(r.client_id.is_none());
        assert_eq!(r.auth_parameters.len(), 1);
        assert_eq!(r.auth_parameters["REFRESH_TOKEN"], "t");
        assert!(r.list.is_empty());
        let r: Req = decode(br#"{"AuthParameters": null}"#).unwrap();
        assert!(r.auth_parameters.is_empty());
    }

    #[test]
    fn decode_errors_name_the_path_but_never_the_value() {
        let secret = "Sup3r-Secret-Value!";
        for body in [
            format!(r#"{{"AuthParameters": {{"PASSWORD": ["{secret}"]}}}}"#),
            format!(r#"{{"AuthParameters": {{"PASSWORD": 12345{}}}}}"#, ""),
            format!(r#"{{"ClientId": {{"x": "{secret}"}}}}"#),
            format!(r#"{{"ClientId": "{secret}"#),
            format!(r#"{{"List": ["{secret}", 7]}}"#),
        ] {
            let e = decode::<Req>(body.as_bytes()).unwrap_err().to_string();
            assert!(!e.contains(secret) && !e.contains("12345"), "{e}");
            assert!(e.contains("not valid JSON"), "{e}");
        }
        let e = decode::<Req>(br#"{"AuthParameters": {"PASSWORD": 12345}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("'AuthParameters.PASSWORD'"), "{e}");
        assert!(e.contains("invalid type, expected a string"), "{e}");
        assert!(decode::<Req>(b"").is_err());
        assert!(decode::<Req>(b"{} x").is_err(), "trailing data is refused");
    }
}
