//! Operator secrets: the sealed store's passphrase and a PKCS#11 user PIN.
//!
//! Both are text an operator types or a service reads from its environment, never from the
//! command line (argv is visible to every user of the machine through `/proc`). Both are
//! zeroized on drop, print as `Passphrase(<redacted>)` / `Pin(<redacted>)`, and have no
//! `Display`, `Serialize` or `Clone`.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::error::{HsmError, SecretField};

macro_rules! operator_secret {
    ($(#[$doc:meta])* $name:ident, $field:expr) => {
        $(#[$doc])*
        #[derive(Zeroize, ZeroizeOnDrop)]
        pub struct $name(String);

        impl $name {
            /// Wraps the text; it is zeroized when this value drops.
            pub fn new(text: String) -> Self {
                Self(text)
            }

            /// Reads the secret from the environment variable `var`, refusing an unset, non
            /// UTF-8 or empty value. The error names the variable, never its value.
            pub fn from_env(var: &str) -> Result<Self, HsmError> {
                let text = std::env::var(var)
                    .map_err(|_| HsmError::SecretEnv { var: var.to_owned() })?;
                let secret = Self(text);
                secret.check_not_empty()?;
                Ok(secret)
            }

            /// The text. Secret: do not copy it into anything that is not zeroized.
            pub fn expose(&self) -> &str {
                &self.0
            }

            /// Fails with [`HsmError::EmptySecret`] if the text is empty.
            pub fn check_not_empty(&self) -> Result<(), HsmError> {
                if self.0.is_empty() {
                    Err(HsmError::EmptySecret { field: $field })
                } else {
                    Ok(())
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
}

operator_secret!(
    /// The passphrase a [`crate::SealedSoftStore`] file is sealed under (Argon2id input).
    Passphrase,
    SecretField::Passphrase
);

operator_secret!(
    /// A PKCS#11 user PIN, for [`crate::Pkcs11Store`].
    Pin,
    SecretField::Pin
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted_and_empty_is_refused() {
        let p = Passphrase::new("correct horse".to_owned());
        assert_eq!(format!("{p:?}"), "Passphrase(<redacted>)");
        assert_eq!(p.expose(), "correct horse");
        assert!(p.check_not_empty().is_ok());
        let pin = Pin::new(String::new());
        assert_eq!(format!("{pin:?}"), "Pin(<redacted>)");
        assert_eq!(
            pin.check_not_empty(),
            Err(HsmError::EmptySecret {
                field: SecretField::Pin
            })
        );
    }

    #[test]
    fn missing_env_names_the_variable() {
        let err = Passphrase::from_env("STS_TEST_SURELY_UNSET_VARIABLE_6").unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable STS_TEST_SURELY_UNSET_VARIABLE_6 is not set or not UTF-8"
        );
    }
}
