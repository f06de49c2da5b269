//! API keys and scopes.
//!
//! A key reads `vk_<public id>_<secret>`: 8 random bytes and 32 random bytes in hex. The
//! ledger stores the public id (to find the key) and SHA-256 of the secret; the key itself is
//! printed once at creation and never stored or logged. A fast hash is enough: the secret is
//! 256 random bits, not a password, so there is nothing for a slow hash to protect.

use core::fmt;
use core::str::FromStr;

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::audit::to_hex;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Credit tokens, re-issue, verify.
    Vend,
    /// Management and engineering tokens, currency debits.
    Manage,
    /// Key change token sets.
    KeyChange,
    /// Register, read and replace meters; post meter events.
    Meters,
    /// Read and verify the audit log; metrics.
    Audit,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Self; 5] = [
        Self::Vend,
        Self::Manage,
        Self::KeyChange,
        Self::Meters,
        Self::Audit,
    ];

    /// The scope's name in keys, config and errors.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Vend => "vend",
            Self::Manage => "manage",
            Self::KeyChange => "key_change",
            Self::Meters => "meters",
            Self::Audit => "audit",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A scope name that is not one of [`Scope::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownScope(pub String);

impl fmt::Display for UnknownScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown scope {:?} (expected vend, manage, key_change, meters or audit)",
            self.0
        )
    }
}

impl std::error::Error for UnknownScope {}

impl FromStr for Scope {
    type Err = UnknownScope;
    fn from_str(s: &str) -> Result<Self, UnknownScope> {
        let norm = s.trim().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|x| x.name() == norm)
            .ok_or_else(|| UnknownScope(s.to_owned()))
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scopes(u8);

impl Scopes {
    /// Every scope.
    pub fn all() -> Self {
        Scope::ALL.into_iter().collect()
    }

    /// True if `s` is in the set.
    pub fn contains(self, s: Scope) -> bool {
        self.0 & (1 << s as u8) != 0
    }

    /// The names, in [`Scope::ALL`] order.
    pub fn names(self) -> Vec<String> {
        Scope::ALL
            .into_iter()
            .filter(|s| self.contains(*s))
            .map(|s| s.name().to_owned())
            .collect()
    }

    /// Parses comma-separated names.
    pub fn parse_list(text: &str) -> Result<Self, UnknownScope> {
        text.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(str::parse::<Scope>)
            .collect()
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        Self(iter.into_iter().fold(0, |acc, s| acc | (1 << s as u8)))
    }
}

/// A newly generated key: the text to hand out once, and what the ledger stores.
pub struct GeneratedKey {
    /// The whole key, shown once.
    pub text: Zeroizing<String>,
    /// The public id.
    pub public_id: String,
    /// SHA-256 of the secret.
    pub secret_sha256: [u8; 32],
}

impl fmt::Debug for GeneratedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GeneratedKey")
            .field("public_id", &self.public_id)
            .finish_non_exhaustive()
    }
}

/// Generates a key from the OS-seeded CSPRNG.
pub fn generate() -> GeneratedKey {
    let mut id = [0u8; 8];
    let mut secret = Zeroizing::new([0u8; 32]);
    let mut rng = rand::rng();
    rng.fill_bytes(&mut id);
    rng.fill_bytes(secret.as_mut());
    let public_id = to_hex(&id);
    let secret_hex = Zeroizing::new(to_hex(secret.as_ref()));
    GeneratedKey {
        text: Zeroizing::new(format!("vk_{public_id}_{}", secret_hex.as_str())),
        secret_sha256: hash_secret(&secret_hex),
        public_id,
    }
}

/// SHA-256 of a key's secret part.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A presented key split into its parts (not yet checked against the ledger).
#[derive(Clone, PartialEq, Eq)]
pub struct PresentedKey {
    /// Public id.
    pub public_id: String,
    secret: Zeroizing<String>,
}

impl fmt::Debug for PresentedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PresentedKey({}, <redacted>)", self.public_id)
    }
}

impl PresentedKey {
    /// Splits `vk_<16 hex>_<64 hex>`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("vk_")?;
        let (id, secret) = rest.split_once('_')?;
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex(id, 16) || !hex(secret, 64) {
            return None;
        }
        Some(Self {
            public_id: id.to_ascii_lowercase(),
            secret: Zeroizing::new(secret.to_ascii_lowercase()),
        })
    }

    /// True if the secret hashes to `stored` (constant-time comparison).
    pub fn matches(&self, stored: &[u8; 32]) -> bool {
        hash_secret(&self.secret).ct_eq(stored).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_match() {
        let k = generate();
        let p = PresentedKey::parse(&k.text).unwrap();
        assert_eq!(p.public_id, k.public_id);
        assert!(p.matches(&k.secret_sha256));
        let other = generate();
        assert!(!p.matches(&other.secret_sha256));
        assert!(!format!("{p:?}").contains(&k.text[20..]));
    }

    #[test]
    fn malformed_keys_are_refused() {
        for bad in [
            "",
            "vk_",
            "vk_abc_def",
            "xx_0123456789abcdef_",
            "vk_0123456789abcdeg_00",
        ] {
            assert!(PresentedKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn scopes_parse_and_name() {
        let s = Scopes::parse_list("vend, key-change,audit").unwrap();
        assert!(
            s.contains(Scope::Vend) && s.contains(Scope::KeyChange) && s.contains(Scope::Audit)
        );
        assert!(!s.contains(Scope::Manage));
        assert_eq!(s.names(), ["vend", "key_change", "audit"]);
        assert_eq!(
            Scopes::parse_list("vend,admin").unwrap_err().to_string(),
            "unknown scope \"admin\" (expected vend, manage, key_change, meters or audit)"
        );
    }
}
