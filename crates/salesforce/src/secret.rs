//! Secrets: values that grant access to an org and so must never be printed.
//!
//! Each secret is a newtype whose `Debug` and `Display` print `[redacted]`. The only way to
//! read one is [`expose`](AccessToken::expose), which the client calls in exactly the places
//! Salesforce requires the value: the `Authorization` header for an access token, a POST body
//! for a refresh token, authorization code, code verifier or client secret.

use std::fmt;

/// What every secret prints instead of its value.
const REDACTED: &str = "[redacted]";

macro_rules! secret {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// The secret itself, for the one place it is sent or persisted.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({REDACTED})", stringify!($name))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(REDACTED)
            }
        }
    };
}

secret!(
    /// An OAuth access token (a Salesforce session id); sent only as `Authorization: Bearer`.
    AccessToken
);
secret!(
    /// An OAuth refresh token; sent only in the body of a token or revoke POST.
    RefreshToken
);
secret!(
    /// The connected app's consumer secret; sent only in token POST bodies and used as the
    /// HMAC key that checks a token response's `signature`.
    ClientSecret
);
secret!(
    /// A single-use authorization code from the authorize callback (valid 15 minutes).
    AuthorizationCode
);
secret!(
    /// The PKCE `code_verifier` (RFC 7636): kept by the caller between the authorize redirect
    /// and the code exchange, and only ever sent in the token POST body.
    CodeVerifier
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let token = AccessToken::new("00Dxx0000000001!AQ4AQFakeSessionValue");
        assert_eq!(format!("{token}"), "[redacted]");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        assert_eq!(
            format!("{:?}", Some(RefreshToken::new("5Aep861"))),
            "Some(RefreshToken([redacted]))"
        );
        assert_eq!(token.expose(), "00Dxx0000000001!AQ4AQFakeSessionValue");
    }
}
