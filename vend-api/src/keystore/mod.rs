//! Opening the configured key store. The service touches keys only through
//! [`hsm_core::Issuer`] over the store opened here.

pub mod sample;

use std::sync::Arc;

use hsm_core::{KeyStore, Passphrase, Pin, Pkcs11Config, Pkcs11Store, SealedSoftStore};

use crate::config::{ConfigError, KeyStoreConfig};

fn failed(message: String) -> ConfigError {
    ConfigError::Invalid {
        key: "keystore",
        message,
    }
}

/// Opens the key store the config names. Secrets (passphrase, PIN) are read from the
/// environment variables the config names, and only here.
pub fn open(cfg: &KeyStoreConfig) -> Result<Arc<dyn KeyStore>, ConfigError> {
    match cfg {
        KeyStoreConfig::MemorySample => {
            tracing::warn!("key store memory-sample: PUBLIC TEST KEYS, never for production");
            let store = sample::store().map_err(|e| failed(e.to_string()))?;
            Ok(Arc::new(store))
        }
        KeyStoreConfig::Sealed {
            path,
            passphrase_env,
        } => {
            let pass = Passphrase::from_env(passphrase_env).map_err(|e| failed(e.to_string()))?;
            let store = SealedSoftStore::open(path, &pass)
                .map_err(|e| failed(format!("cannot open sealed store {}: {e}", path.display())))?;
            Ok(Arc::new(store))
        }
        KeyStoreConfig::Pkcs11 {
            module,
            token_label,
            pin_env,
            sessions,
        } => {
            let pin = Pin::from_env(pin_env).map_err(|e| failed(e.to_string()))?;
            let mut config = Pkcs11Config::new(module.clone(), token_label);
            if let Some(n) = sessions {
                config.sessions = (*n).max(1);
            }
            let store = Pkcs11Store::open(&config, &pin)
                .map_err(|e| failed(format!("cannot open PKCS#11 token {token_label:?}: {e}")))?;
            Ok(Arc::new(store))
        }
    }
}
