//! The sets of values the store keeps as text: a user's status, a one-time code's purpose, a client's auth
//! flows and scopes, its OAuth flows and URLs. Each has
//! exactly one stored spelling (`as_str`, also its `Display`), the one existing databases hold; reading any other
//! text is an error, never a guess. Must never change a spelling: databases written before would stop opening.
use std::fmt;

/// Text in the database that names no known value.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} '{value}' in the database")]
pub struct UnknownValue {
    what: &'static str,
    value: String,
}

/// Defines a text-valued enum: its stored spellings, `as_str`, `Display` and the conversion from stored text.
macro_rules! stored_text {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// The stored (and Cognito's) spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownValue;

            fn try_from(value: String) -> Result<Self, UnknownValue> {
                match value.as_str() {
                    $($text => Ok(Self::$variant),)+
                    _ => Err(UnknownValue { what: $what, value }),
                }
            }
        }
    };
}

stored_text!(
    /// A user's status, as Cognito's `UserStatus`.
    UserStatus, "user status" {
        /// Signed up, the confirmation code not yet used.
        Unconfirmed = "UNCONFIRMED",
        /// May sign in.
        Confirmed = "CONFIRMED",
        /// Signs in with a temporary password and must choose a new one.
        ForceChangePassword = "FORCE_CHANGE_PASSWORD",
        /// Must reset the password before signing in.
        ResetRequired = "RESET_REQUIRED",
    }
);

stored_text!(
    /// What a one-time code is for.
    CodePurpose, "code purpose" {
        /// Sign-up confirmation (`ConfirmSignUp`).
        ConfirmSignUp = "confirm_sign_up",
        /// Password reset (`ConfirmForgotPassword`).
        ForgotPassword = "forgot_password",
        /// E-mail verification (`VerifyUserAttribute`).
        VerifyEmail = "verify_email",
    }
);

stored_text!(
    /// One of a client's `ExplicitAuthFlows`.
    AuthFlow, "auth flow" {
        /// `InitiateAuth` with SRP.
        UserSrpAuth = "ALLOW_USER_SRP_AUTH",
        /// `InitiateAuth` with the password itself.
        UserPasswordAuth = "ALLOW_USER_PASSWORD_AUTH",
        /// `REFRESH_TOKEN_AUTH` and `GetTokensFromRefreshToken`.
        RefreshTokenAuth = "ALLOW_REFRESH_TOKEN_AUTH",
    }
);

stored_text!(
    /// One of a client's OAuth flows (Cognito's `AllowedOAuthFlows`, spelled as the `grant_type` it enables).
    OAuthFlow, "OAuth flow" {
        /// `/oauth2/authorize` with `response_type=code`, then the `authorization_code` grant.
        Code = "code",
        /// The `client_credentials` grant (confidential clients).
        ClientCredentials = "client_credentials",
    }
);

/// What every newtype over its stored text (`struct $name(String)`) has: `as_str`, `Display` (the text) and the
/// conversions from text. Also used by `ids`.
macro_rules! text_newtype {
    ($name:ident) => {
        impl $name {
            /// The stored text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(text: String) -> Self {
                Self(text)
            }
        }

        impl From<&str> for $name {
            fn from(text: &str) -> Self {
                Self(text.to_string())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(&self.0)
            }
        }
    };
}
pub(super) use text_newtype;

/// Defines a space-separated list kept as the text it is stored as: the newtype, `iter` and what `text_newtype`
/// gives.
macro_rules! stored_list {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        text_newtype!($name);

        impl $name {
            /// Each item.
            pub fn iter(&self) -> impl Iterator<Item = &str> {
                self.0.split_whitespace()
            }
        }
    };
}

stored_list!(
    /// A client's `ExplicitAuthFlows`, kept as the space-separated text it is stored as (a flag gatehouse does
    /// not know is kept, and allows nothing).
    AuthFlows
);

impl AuthFlows {
    /// Whether `flow` is among the flags.
    pub fn allows(&self, flow: AuthFlow) -> bool {
        self.iter().any(|f| f == flow.as_str())
    }
}

stored_list!(
    /// The scopes a client's access tokens carry (their `scope` claim), kept as the space-separated text they
    /// are stored as; serialised as that text.
    Scopes
);

stored_list!(
    /// A client's OAuth flows (`code`, `client_credentials`), as stored.
    OAuthFlows
);

impl OAuthFlows {
    /// Whether `flow` is among them.
    pub fn allows(&self, flow: OAuthFlow) -> bool {
        self.iter().any(|f| f == flow.as_str())
    }
}

stored_list!(
    /// URLs (a client's callback or logout URLs), space-separated as stored; a URL never holds a space.
    UrlList
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_spellings_round_trip_and_unknown_text_is_refused() {
        for s in [
            UserStatus::Unconfirmed,
            UserStatus::Confirmed,
            UserStatus::ForceChangePassword,
            UserStatus::ResetRequired,
        ] {
            assert_eq!(UserStatus::try_from(s.as_str().to_string()).ok(), Some(s));
        }
        for p in [
            CodePurpose::ConfirmSignUp,
            CodePurpose::ForgotPassword,
            CodePurpose::VerifyEmail,
        ] {
            assert_eq!(CodePurpose::try_from(p.to_string()).ok(), Some(p));
        }
        assert_eq!(CodePurpose::ForgotPassword.as_str(), "forgot_password");
        let flows = AuthFlows::from("ALLOW_USER_SRP_AUTH  ALLOW_CUSTOM_AUTH");
        assert!(flows.allows(AuthFlow::UserSrpAuth));
        assert!(!flows.allows(AuthFlow::UserPasswordAuth));
        assert_eq!(flows.as_str(), "ALLOW_USER_SRP_AUTH  ALLOW_CUSTOM_AUTH");
        let scopes = Scopes::from("openid  email");
        assert_eq!(scopes.iter().collect::<Vec<_>>(), ["openid", "email"]);
        assert_eq!(
            serde_json::json!(scopes),
            serde_json::json!("openid  email")
        );
        let e = UserStatus::try_from("confirmed".to_string()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown user status 'confirmed' in the database"
        );
    }
}
