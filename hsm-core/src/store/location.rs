//! [`StoreLocation`]: a key store named in one string, as `sts-keys --store` and a service's
//! configuration take it, and opened with its secret read from the environment.

use core::fmt;
use core::str::FromStr;
use std::path::PathBuf;
use std::sync::Arc;

use super::{KeyStore, Pkcs11Config, Pkcs11Store, SealedSoftStore};
use crate::error::HsmError;
use crate::passphrase::{Passphrase, Pin};

/// The environment variable holding a sealed store's passphrase, by default.
pub const PASSPHRASE_ENV: &str = "STS_KEYSTORE_PASSPHRASE";
/// The environment variable holding a PKCS#11 user PIN, by default.
pub const PIN_ENV: &str = "STS_PKCS11_PIN";

/// Where a key store is: `sealed:PATH`, or `pkcs11:MODULE:TOKEN_LABEL` (an empty MODULE means
/// `STS_PKCS11_MODULE`, else SoftHSM2's default path; the label is what follows the last `:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A [`SealedSoftStore`] file.
    Sealed(PathBuf),
    /// A [`Pkcs11Store`] on a token.
    Pkcs11 {
        /// The PKCS#11 module.
        module: PathBuf,
        /// The token's label.
        token_label: String,
    },
}

impl FromStr for StoreLocation {
    type Err = HsmError;

    fn from_str(s: &str) -> Result<Self, HsmError> {
        if let Some(path) = s.strip_prefix("sealed:") {
            if !path.is_empty() {
                return Ok(StoreLocation::Sealed(PathBuf::from(path)));
            }
        } else if let Some((module, label)) = s
            .strip_prefix("pkcs11:")
            .and_then(|rest| rest.rsplit_once(':'))
        {
            if !label.is_empty() {
                let module = if module.is_empty() {
                    Pkcs11Config::module_from_env()
                } else {
                    PathBuf::from(module)
                };
                return Ok(StoreLocation::Pkcs11 {
                    module,
                    token_label: label.to_owned(),
                });
            }
        }
        Err(HsmError::StoreLocationFormat)
    }
}

impl fmt::Display for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::Sealed(path) => write!(f, "sealed:{}", path.display()),
            StoreLocation::Pkcs11 {
                module,
                token_label,
            } => write!(f, "pkcs11:{}:{token_label}", module.display()),
        }
    }
}

impl StoreLocation {
    /// Opens the store, reading its passphrase from `passphrase_env` (sealed) or its PIN from
    /// `pin_env` (PKCS#11). Names of variables, not secrets, are what this takes.
    pub fn open(&self, passphrase_env: &str, pin_env: &str) -> Result<Arc<dyn KeyStore>, HsmError> {
        self.open_or_create(passphrase_env, pin_env, false)
    }

    /// Creates the store: a new sealed file, or the key-encryption key on a token.
    pub fn create(
        &self,
        passphrase_env: &str,
        pin_env: &str,
    ) -> Result<Arc<dyn KeyStore>, HsmError> {
        self.open_or_create(passphrase_env, pin_env, true)
    }

    fn open_or_create(
        &self,
        passphrase_env: &str,
        pin_env: &str,
        create: bool,
    ) -> Result<Arc<dyn KeyStore>, HsmError> {
        Ok(match self {
            StoreLocation::Sealed(path) => {
                let pass = Passphrase::from_env(passphrase_env)?;
                if create {
                    Arc::new(SealedSoftStore::create(path, &pass)?)
                } else {
                    Arc::new(SealedSoftStore::open(path, &pass)?)
                }
            }
            StoreLocation::Pkcs11 {
                module,
                token_label,
            } => {
                let pin = Pin::from_env(pin_env)?;
                let config = Pkcs11Config::new(module.clone(), token_label);
                if create {
                    Arc::new(Pkcs11Store::init(&config, &pin)?)
                } else {
                    Arc::new(Pkcs11Store::open(&config, &pin)?)
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_displays() {
        let s: StoreLocation = "sealed:/var/lib/sts/keys.sealed".parse().unwrap();
        assert_eq!(s, StoreLocation::Sealed("/var/lib/sts/keys.sealed".into()));
        assert_eq!(s.to_string(), "sealed:/var/lib/sts/keys.sealed");
        let p: StoreLocation = "pkcs11:/usr/lib/x.so:vend:ing".parse().unwrap();
        assert_eq!(
            p,
            StoreLocation::Pkcs11 {
                module: "/usr/lib/x.so:vend".into(),
                token_label: "ing".into()
            }
        );
        for bad in ["sealed:", "pkcs11:/x.so:", "pkcs11:nolabel", "file:/x", ""] {
            assert_eq!(
                bad.parse::<StoreLocation>(),
                Err(HsmError::StoreLocationFormat),
                "{bad}"
            );
        }
    }
}
