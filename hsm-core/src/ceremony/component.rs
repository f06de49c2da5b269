//! Key components as custodians hold them, and their file format.
//!
//! A component file is secret at rest: written `0600`, atomically, and never overwritten. It
//! is JSON (format tag `sts-key-component/1`):
//!
//! ```json
//! {
//!   "format": "sts-key-component/1",
//!   "key_id": "sgc123456-krn1-kt2",
//!   "dkga": "02",
//!   "custodian": "alice",
//!   "index": 1,
//!   "scheme": "shamir",
//!   "threshold": 2,
//!   "custodians": 3,
//!   "component": "<16 or 40 hex digits>",
//!   "component_kcv": "1A2B3C",
//!   "key_kcv": "C33F45"
//! }
//! ```
//!
//! The component's hex is parsed straight from the (zeroizing) file text into a zeroizing
//! buffer, borrowed by serde rather than copied, and errors keep only a JSON position, never
//! serde's message (which can quote a value).

use core::fmt;
use core::str::FromStr;
use std::borrow::Cow;
use std::path::Path;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::Kcv;
use crate::atomic_file::{self, Existing};
use crate::derive::Dkga;
use crate::error::{CeremonyError, FileOp, HsmError, JsonDoc, NameFault, io_error, json_error};
use crate::store::VendingKeyId;

const FORMAT: &str = "sts-key-component/1";

/// A custodian's name: 1 to 64 letters, digits, spaces or `.`, `_`, `-`, `@`. Not secret (it
/// goes into errors and the audit log), so the character set keeps it printable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustodianName(String);

impl CustodianName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for CustodianName {
    type Err = HsmError;

    fn from_str(s: &str) -> Result<Self, HsmError> {
        let fault = |fault| HsmError::Ceremony(CeremonyError::CustodianName { fault });
        let len = s.chars().count();
        if len == 0 {
            return Err(fault(NameFault::Empty));
        }
        if len > 64 {
            return Err(fault(NameFault::TooLong { len }));
        }
        let allowed = |c: char| c.is_alphanumeric() || matches!(c, ' ' | '.' | '_' | '-' | '@');
        if let Some(position) = s.chars().position(|c| !allowed(c)) {
            return Err(fault(NameFault::Character { position }));
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for CustodianName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a key was split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchemeKind {
    /// N-of-N XOR.
    Xor,
    /// M-of-N Shamir over GF(2^8).
    Shamir,
}

impl fmt::Display for SchemeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SchemeKind::Xor => "xor",
            SchemeKind::Shamir => "shamir",
        })
    }
}

/// One custodian's part of a vending key, with the facts that let it be checked.
pub struct Component {
    pub(super) key_id: VendingKeyId,
    pub(super) dkga: Dkga,
    pub(super) custodian: CustodianName,
    pub(super) index: u8,
    pub(super) scheme: SchemeKind,
    pub(super) threshold: u8,
    pub(super) custodians: u8,
    pub(super) bytes: Zeroizing<Vec<u8>>,
    pub(super) kcv: Kcv,
    pub(super) key_kcv: Kcv,
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Component({} #{} of {} for {}, kcv {}, <redacted>)",
            self.custodian, self.index, self.custodians, self.key_id, self.kcv
        )
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ComponentDoc<'a> {
    #[serde(borrow)]
    format: Cow<'a, str>,
    #[serde(borrow)]
    key_id: Cow<'a, str>,
    #[serde(borrow)]
    dkga: Cow<'a, str>,
    #[serde(borrow)]
    custodian: Cow<'a, str>,
    index: u8,
    scheme: SchemeKind,
    threshold: u8,
    custodians: u8,
    /// Borrowed from the file text, never copied: hex needs no JSON escapes (a file that
    /// escapes it is refused as mistyped).
    component: &'a str,
    component_kcv: Kcv,
    key_kcv: Kcv,
}

impl Component {
    /// The vending key the component belongs to.
    pub fn key_id(&self) -> VendingKeyId {
        self.key_id
    }

    /// The custodian holding it.
    pub fn custodian(&self) -> &CustodianName {
        &self.custodian
    }

    /// Its index, 1..=N (the Shamir x coordinate).
    pub fn index(&self) -> u8 {
        self.index
    }

    /// The split scheme.
    pub fn scheme(&self) -> SchemeKind {
        self.scheme
    }

    /// Components needed to rebuild the key (N for XOR).
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// Custodians the key was split among.
    pub fn custodians(&self) -> u8 {
        self.custodians
    }

    /// The component's KCV as written beside it.
    pub fn kcv(&self) -> Kcv {
        self.kcv
    }

    /// The whole key's KCV.
    pub fn key_kcv(&self) -> Kcv {
        self.key_kcv
    }

    /// Checks the component's bytes against the KCV written beside them; the error names the
    /// index and custodian.
    pub fn verify_kcv(&self) -> Result<(), HsmError> {
        let computed = Kcv::of_key_bytes(self.dkga, &self.bytes)?;
        if computed == self.kcv {
            Ok(())
        } else {
            Err(CeremonyError::ComponentKcv {
                index: self.index,
                custodian: self.custodian.clone(),
                expected: self.kcv,
                computed,
            }
            .into())
        }
    }

    /// Parses a component from its JSON text. The hex is checked here (as hex, of the length
    /// the DKGA needs); the KCV is checked by the ceremony, which names the custodian.
    pub fn from_json(text: &str) -> Result<Self, HsmError> {
        let doc: ComponentDoc<'_> =
            serde_json::from_str(text).map_err(|e| json_error(JsonDoc::Component, &e))?;
        if doc.format != FORMAT {
            return Err(CeremonyError::ComponentVersion.into());
        }
        let dkga: Dkga = doc.dkga.parse()?;
        let custodian: CustodianName = doc.custodian.parse()?;
        let want = match dkga {
            Dkga::Dkga02 => 8,
            Dkga::Dkga04 => 20,
        };
        let hex = doc.component.as_bytes();
        if hex.len() != 2 * want {
            return Err(CeremonyError::ComponentLength {
                index: doc.index,
                custodian,
                expected: want,
                got: hex.len() / 2,
            }
            .into());
        }
        let mut bytes = Zeroizing::new(vec![0u8; want]);
        if let Err(fault) = crate::hex::decode_into(hex, &mut bytes) {
            return Err(CeremonyError::ComponentHex {
                index: doc.index,
                custodian,
                fault,
            }
            .into());
        }
        Ok(Component {
            key_id: doc.key_id.parse()?,
            dkga,
            custodian,
            index: doc.index,
            scheme: doc.scheme,
            threshold: doc.threshold,
            custodians: doc.custodians,
            bytes,
            kcv: doc.component_kcv,
            key_kcv: doc.key_kcv,
        })
    }

    /// Reads a component file.
    pub fn read(path: &Path) -> Result<Self, HsmError> {
        let bytes =
            Zeroizing::new(std::fs::read(path).map_err(|e| io_error(FileOp::Read, path, &e))?);
        let text = std::str::from_utf8(&bytes).map_err(|_| HsmError::Json {
            doc: JsonDoc::Component,
            line: 0,
            column: 0,
            category: crate::error::JsonCategory::Syntax,
        })?;
        Self::from_json(text)
    }

    /// The component file's text. Secret: zeroized on drop.
    pub fn to_json(&self) -> Zeroizing<Vec<u8>> {
        let hex = hex_upper(&self.bytes);
        let doc = ComponentDoc {
            format: Cow::Borrowed(FORMAT),
            key_id: Cow::Owned(self.key_id.to_string()),
            dkga: Cow::Owned(format!("{:02}", self.dkga.code())),
            custodian: Cow::Borrowed(self.custodian.as_str()),
            index: self.index,
            scheme: self.scheme,
            threshold: self.threshold,
            custodians: self.custodians,
            component: &hex,
            component_kcv: self.kcv,
            key_kcv: self.key_kcv,
        };
        // Room for every field even with a fully escaped name, so the buffer never grows
        // (growing would free a copy of the hex without zeroizing it).
        let mut out = Zeroizing::new(Vec::with_capacity(1024 + hex.len()));
        // Serializing strings and integers into a Vec cannot fail.
        let _ = serde_json::to_writer_pretty(&mut *out, &doc);
        out.push(b'\n');
        out
    }

    /// Writes the component to a new file (`0600`, atomic; an existing file is an error).
    pub fn write_new(&self, path: &Path) -> Result<(), HsmError> {
        atomic_file::write(path, &self.to_json(), Existing::Refuse)
    }
}

/// Upper-case hex of secret bytes, in a zeroizing string of exactly the right capacity.
fn hex_upper(bytes: &[u8]) -> Zeroizing<String> {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = Zeroizing::new(String::with_capacity(2 * bytes.len()));
    for b in bytes {
        for nibble in [b >> 4, b & 0x0F] {
            let digit = DIGITS.get(usize::from(nibble)).copied().unwrap_or(b'0');
            out.push(char::from(digit));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn sample(index: u8, hex: &str) -> String {
        format!(
            r#"{{"format": "sts-key-component/1", "key_id": "sgc123456-krn1-kt2", "dkga": "02",
               "custodian": "custodian {index}", "index": {index}, "scheme": "xor",
               "threshold": 2, "custodians": 2, "component": "{hex}",
               "component_kcv": "000000", "key_kcv": "C33F45"}}"#
        )
    }

    #[test]
    fn round_trips_through_json() {
        let c = Component::from_json(&sample(1, "0123456789abcdef")).unwrap();
        assert_eq!(
            c.bytes.as_slice(),
            &[0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]
        );
        assert_eq!(c.custodian().as_str(), "custodian 1");
        let text = c.to_json();
        let again = Component::from_json(std::str::from_utf8(&text).unwrap()).unwrap();
        assert_eq!(again.bytes, c.bytes);
        assert!(
            std::str::from_utf8(&text)
                .unwrap()
                .contains("\"0123456789ABCDEF\"")
        );
        assert!(!format!("{c:?}").contains("0123"), "{c:?}");
    }

    #[test]
    fn bad_components_never_echo_their_bytes() {
        let err = Component::from_json(&sample(2, "0123456789abcdeZ")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "component 2 (custodian 2): character at position 15 is not a hex digit"
        );
        let err = Component::from_json(&sample(2, "0123456789abcd")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "component 2 (custodian 2) must be 8 bytes, got 7"
        );
        let typed = sample(1, "0123456789abcdef")
            .replace("\"index\": 1", "\"index\": \"0123456789abcdef\"");
        let err = Component::from_json(&typed).unwrap_err();
        assert!(!err.to_string().contains("0123"), "{err}");
    }

    #[test]
    fn custodian_names_are_checked() {
        assert!("Alice O'Neil".parse::<CustodianName>().is_err());
        assert!("alice.o-neil@kmc".parse::<CustodianName>().is_ok());
        assert_eq!(
            "a\nb".parse::<CustodianName>().unwrap_err().to_string(),
            "custodian name has a character other than a letter, digit, space, '.', '_', '-' \
             or '@' at position 1"
        );
    }
}
