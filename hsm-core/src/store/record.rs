//! Vending key identities and attributes.

use core::fmt;
use core::str::FromStr;

use token_codec::{
    BaseDate, EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyType, SupplyGroupCode,
    UtcMinute,
};

use crate::derive::Dkga;
use crate::error::HsmError;

/// Names a vending key: its supply group, revision and the type of decoder key it yields
/// (unique, common or default vending keys give DUTK, DCTK or DDTK decoder keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VendingKeyId {
    /// Supply group code.
    pub sgc: SupplyGroupCode,
    /// Key revision number.
    pub krn: KeyRevision,
    /// Decoder key type it yields.
    pub kt: KeyType,
}

impl fmt::Display for VendingKeyId {
    /// `sgc123456-krn1-kt2`: also the PKCS#11 object label.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sgc{}-krn{}-kt{}", self.sgc, self.krn, self.kt.bits())
    }
}

impl FromStr for VendingKeyId {
    type Err = HsmError;

    /// The [`Display`](fmt::Display) form back: `sgc123456-krn1-kt2` (six SGC digits, KRN 1..9,
    /// KT 0..3). Anything else is [`HsmError::KeyIdFormat`]; a well-formed id with an invalid
    /// part (KRN 0) is that part's codec error.
    fn from_str(s: &str) -> Result<Self, HsmError> {
        let rest = s.strip_prefix("sgc").ok_or(HsmError::KeyIdFormat)?;
        let (sgc, rest) = rest.split_once("-krn").ok_or(HsmError::KeyIdFormat)?;
        let (krn, kt) = rest.split_once("-kt").ok_or(HsmError::KeyIdFormat)?;
        let digit = |t: &str| match t.as_bytes() {
            [d @ b'0'..=b'9'] => Ok(*d - b'0'),
            _ => Err(HsmError::KeyIdFormat),
        };
        if sgc.len() != 6 {
            return Err(HsmError::KeyIdFormat);
        }
        Ok(VendingKeyId {
            sgc: sgc.parse()?,
            krn: KeyRevision::new(digit(krn)?)?,
            kt: KeyType::try_from(digit(kt)?)?,
        })
    }
}

/// A half-open UTC interval `[from, until)`; an absent bound is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Window {
    /// First minute inside the window.
    pub from: Option<UtcMinute>,
    /// First minute after the window.
    pub until: Option<UtcMinute>,
}

impl Window {
    /// A window with no bounds.
    pub const ALWAYS: Self = Self {
        from: None,
        until: None,
    };

    /// True if `at` lies inside.
    pub fn contains(&self, at: UtcMinute) -> bool {
        self.from.is_none_or(|f| at >= f) && self.until.is_none_or(|u| at < u)
    }
}

/// What a vending key is being used for: credit issuance and key change issuance have
/// separate validity windows (the 2024 rollover kept key change tokens valid after credit
/// stopped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyUse {
    /// Credit and management tokens.
    Credit,
    /// Key change token sets (the key as the meter's current key).
    KeyChange,
}

impl fmt::Display for KeyUse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KeyUse::Credit => "credit issuance",
            KeyUse::KeyChange => "key change issuance",
        })
    }
}

/// Everything known about a vending key except its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VendingKeyRecord {
    /// Identity.
    pub id: VendingKeyId,
    /// Decoder key generation algorithm (fixes the key's length: 8 bytes DKGA02, 20 DKGA04).
    pub dkga: Dkga,
    /// Encryption algorithm of the meters it serves.
    pub ea: EncryptionAlgorithm,
    /// TID base date of decoder keys derived from it.
    pub base_date: BaseDate,
    /// Key expiry number.
    pub ken: KeyExpiryNumber,
    /// When credit (and management) tokens may be issued with it.
    pub credit_window: Window,
    /// When key change sets may be issued from it.
    pub key_change_window: Window,
}

impl fmt::Display for Window {
    /// `[2024-01-01T00:00Z, -)`: `-` for an open bound.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        match self.from {
            Some(t) => write!(f, "{t}")?,
            None => f.write_str("-")?,
        }
        f.write_str(", ")?;
        match self.until {
            Some(t) => write!(f, "{t})"),
            None => f.write_str("-)"),
        }
    }
}

impl fmt::Display for VendingKeyRecord {
    /// One line: `sgc123456-krn1-kt2  DKGA02  EA07 (STA)  BD1993  KEN255  credit [-, -)
    /// key-change [-, -)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}  {}  {}  BD{}  KEN{}  credit {}  key-change {}",
            self.id,
            self.dkga,
            self.ea,
            self.base_date.year(),
            self.ken.get(),
            self.credit_window,
            self.key_change_window
        )
    }
}

impl VendingKeyRecord {
    /// The window for a use.
    pub const fn window(&self, use_: KeyUse) -> &Window {
        match use_ {
            KeyUse::Credit => &self.credit_window,
            KeyUse::KeyChange => &self.key_change_window,
        }
    }
}
