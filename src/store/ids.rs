//! The identifiers the store keys its rows by, each a type of its own so that one cannot be passed where another
//! is expected: a user pool's id (`PoolId`, `region_suffix`), a user's `sub` (`Sub`, a UUID) and an app client's
//! id (`ClientId`). Each is the text it is stored and sent as (`serde` and `sqlx` see the string itself, so the
//! wire formats and the databases are unchanged). `From<String>` / `From<&str>` take text that is already trusted
//! (a row, a value gatehouse minted, a token it verified); `parse` checks text from outside where the format is
//! known. Must never change a spelling or add a check to reading a row: databases written before must still open.
use std::borrow::Borrow;

/// Text that is not a well-formed id of its kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{value}' is not a {what} ({expected})")]
pub struct BadId {
    what: &'static str,
    expected: &'static str,
    value: String,
}

/// Defines an id newtype over its text: the serde and sqlx transparency, what `values::text_newtype` gives
/// (`as_str`, `Display`, the trusted conversions from text), `Deref` to `str`, `AsRef<str>`, `Borrow<str>` and
/// comparisons with text.
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(String);

        super::values::text_newtype!($name);

        impl $name {
            /// The id's text, owned.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.0
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
    };
}

id_type!(
    /// A user pool's id, Cognito's `region_suffix` (`us-east-1_AbCdEfGhI`); also the last segment of the pool's
    /// issuer URL.
    PoolId
);

impl PoolId {
    /// A new id in `region`: the region, `_`, and 9 random alphanumerics.
    pub fn generate(region: &str) -> Self {
        Self(format!("{region}_{}", crate::util::random_alnum(9)))
    }

    /// Checks `text` is `region_suffix`: a region of lower-case letters, digits and `-`, then `_`, then a
    /// non-empty suffix of ASCII letters and digits.
    pub fn parse(text: &str) -> Result<Self, BadId> {
        let well_formed = text.split_once('_').is_some_and(|(region, suffix)| {
            !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !suffix.is_empty()
                && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        if well_formed {
            Ok(Self(text.to_string()))
        } else {
            Err(BadId {
                what: "user pool id",
                expected: "region_suffix, e.g. us-east-1_AbCdEfGhI",
                value: text.to_string(),
            })
        }
    }

    /// The region part (before the first `_`); the whole id if it has none.
    pub fn region(&self) -> &str {
        self.0.split_once('_').map_or(&self.0, |(region, _)| region)
    }
}

id_type!(
    /// A user's `sub` claim: a UUID gatehouse assigns when the user is created, never reused.
    Sub
);

impl Sub {
    /// A new random (version 4) UUID.
    pub fn generate() -> Self {
        Self(crate::util::uuid_v4())
    }

    /// Checks `text` is a UUID in its usual text form (8-4-4-4-12 hexadecimal digits).
    pub fn parse(text: &str) -> Result<Self, BadId> {
        let b = text.as_bytes();
        let well_formed = b.len() == 36
            && b.iter().enumerate().all(|(i, &c)| {
                if matches!(i, 8 | 13 | 18 | 23) {
                    c == b'-'
                } else {
                    c.is_ascii_hexdigit()
                }
            });
        if well_formed {
            Ok(Self(text.to_string()))
        } else {
            Err(BadId {
                what: "user sub",
                expected: "a UUID, e.g. 0f8e6c3a-5b1d-4e2f-9a7c-2d4b6e8f0a1c",
                value: text.to_string(),
            })
        }
    }
}

id_type!(
    /// An app client's id (`ClientId` in Cognito's requests; the `client_id` and `aud` claims).
    ClientId
);

impl ClientId {
    /// A new id as Cognito makes them: 26 random lower-case alphanumerics.
    pub fn generate() -> Self {
        Self(crate::util::random_lower_alnum(26))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_ids_are_region_underscore_suffix() {
        let id = PoolId::generate("eu-west-2");
        assert_eq!(PoolId::parse(id.as_str()), Ok(id.clone()));
        assert_eq!(id.region(), "eu-west-2");
        assert!(PoolId::parse("us-east-1_AAAAAAAAA").is_ok());
        for bad in [
            "",
            "us-east-1",
            "_abc",
            "us-east-1_",
            "US_abc",
            "us-east-1_a/b",
            "us east_1",
        ] {
            let e = PoolId::parse(bad).unwrap_err();
            assert!(e.to_string().contains("user pool id"), "{bad}: {e}");
        }
    }

    #[test]
    fn subs_are_uuids() {
        let sub = Sub::generate();
        assert_eq!(Sub::parse(sub.as_str()), Ok(sub.clone()));
        assert!(Sub::parse("0F8E6C3A-5B1D-4E2F-9A7C-2D4B6E8F0A1C").is_ok());
        for bad in [
            "",
            "sub-1",
            "0f8e6c3a5b1d4e2f9a7c2d4b6e8f0a1c",
            "0f8e6c3a-5b1d-4e2f-9a7c-2d4b6e8f0a1g",
        ] {
            assert!(Sub::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_are_their_text_on_the_wire() {
        let client = ClientId::generate();
        assert_eq!(client.as_str().len(), 26);
        assert_eq!(
            serde_json::json!(client),
            serde_json::json!(client.as_str())
        );
        let back: ClientId = serde_json::from_str("\"abc\"").unwrap();
        assert_eq!(back, "abc");
        assert_eq!(format!("[{:>5}]", ClientId::from("ab")), "[   ab]");
    }
}
