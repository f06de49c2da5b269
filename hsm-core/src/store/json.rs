//! A vending key record as JSON: how `sts-keys` takes records, how both persistent stores keep
//! them, and how the audit log names them. A record holds no secret.
//!
//! ```json
//! {"sgc": "123456", "krn": 1, "kt": 2, "dkga": "02", "ea": "07", "base_date": 1993,
//!  "ken": 255, "credit_window": {"from": "2024-01-01T00:00Z", "until": null},
//!  "key_change_window": {}}
//! ```
//!
//! Codes are written as the vectors write them (SGC six digits, DKGA and EA two digits), times
//! as UTC minutes `YYYY-MM-DDTHH:MMZ` (the form [`UtcMinute`] displays). A window's bounds are
//! optional; a missing window is always open.

use serde::{Deserialize, Serialize};
use token_codec::{
    BaseDate, EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyType, KeyWidth, UtcMinute,
};

use super::{KeyUse, VendingKeyId, VendingKeyRecord, Window};
use crate::derive::Dkga;
use crate::error::{HsmError, JsonDoc, json_error};

/// The JSON shape of a [`VendingKeyRecord`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RecordDoc {
    sgc: String,
    krn: u8,
    kt: u8,
    dkga: String,
    ea: String,
    base_date: u16,
    ken: u8,
    #[serde(default)]
    credit_window: WindowDoc,
    #[serde(default)]
    key_change_window: WindowDoc,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowDoc {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    until: Option<String>,
}

impl From<&VendingKeyRecord> for RecordDoc {
    fn from(r: &VendingKeyRecord) -> Self {
        let window = |w: &Window| WindowDoc {
            from: w.from.map(|t| t.to_string()),
            until: w.until.map(|t| t.to_string()),
        };
        RecordDoc {
            sgc: r.id.sgc.to_string(),
            krn: r.id.krn.get(),
            kt: r.id.kt.bits(),
            dkga: format!("{:02}", r.dkga.code()),
            ea: format!("{:02}", r.ea.code()),
            base_date: r.base_date.year(),
            ken: r.ken.get(),
            credit_window: window(&r.credit_window),
            key_change_window: window(&r.key_change_window),
        }
    }
}

impl TryFrom<&RecordDoc> for VendingKeyRecord {
    type Error = HsmError;

    fn try_from(d: &RecordDoc) -> Result<Self, HsmError> {
        let record = VendingKeyRecord {
            id: VendingKeyId {
                sgc: d.sgc.parse()?,
                krn: KeyRevision::new(d.krn)?,
                kt: KeyType::try_from(d.kt)?,
            },
            dkga: d.dkga.parse()?,
            ea: d.ea.parse::<EncryptionAlgorithm>()?,
            base_date: BaseDate::from_year(d.base_date)?,
            ken: KeyExpiryNumber::new(d.ken),
            credit_window: window(&d.credit_window, KeyUse::Credit)?,
            key_change_window: window(&d.key_change_window, KeyUse::KeyChange)?,
        };
        record.check()?;
        Ok(record)
    }
}

fn window(d: &WindowDoc, use_: KeyUse) -> Result<Window, HsmError> {
    let from = d.from.as_deref().map(parse_minute).transpose()?;
    let until = d.until.as_deref().map(parse_minute).transpose()?;
    if let (Some(f), Some(u)) = (from, until) {
        if f >= u {
            return Err(HsmError::WindowOrder { use_ });
        }
    }
    Ok(Window { from, until })
}

/// Parses `YYYY-MM-DDTHH:MMZ` (exactly that: the [`UtcMinute`] display form).
pub fn parse_minute(text: &str) -> Result<UtcMinute, HsmError> {
    let b = text.as_bytes();
    let number = |range: core::ops::Range<usize>| -> Result<u16, HsmError> {
        let digits = b.get(range).ok_or(HsmError::TimeFormat)?;
        digits.iter().try_fold(0u16, |acc, c| {
            if c.is_ascii_digit() {
                Ok(acc * 10 + u16::from(c - b'0'))
            } else {
                Err(HsmError::TimeFormat)
            }
        })
    };
    let separators = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b'Z')];
    if b.len() != 17 || separators.iter().any(|(i, c)| b.get(*i) != Some(c)) {
        return Err(HsmError::TimeFormat);
    }
    let small = |v: u16| u8::try_from(v).map_err(|_| HsmError::TimeFormat);
    UtcMinute::from_civil(
        number(0..4)?,
        small(number(5..7)?)?,
        small(number(8..10)?)?,
        small(number(11..13)?)?,
        small(number(14..16)?)?,
    )
    .map_err(|_| HsmError::TimeFormat)
}

impl VendingKeyRecord {
    /// Parses a record from its JSON form (see the module documentation) and checks it (see
    /// [`VendingKeyRecord::check`]).
    pub fn from_json(text: &str) -> Result<Self, HsmError> {
        let doc: RecordDoc =
            serde_json::from_str(text).map_err(|e| json_error(JsonDoc::Record, &e))?;
        VendingKeyRecord::try_from(&doc)
    }

    /// The record's JSON form, on one line.
    pub fn to_json(&self) -> String {
        // A struct of strings and small integers always serializes.
        serde_json::to_string(&RecordDoc::from(self)).unwrap_or_default()
    }

    /// The record as a JSON value (for the audit log).
    pub(crate) fn json_value(&self) -> serde_json::Value {
        serde_json::to_value(RecordDoc::from(self)).unwrap_or_default()
    }

    /// Checks that the attributes fit together: a DKGA02 key cannot serve a 128-bit
    /// algorithm (MISTY1), and each window starts before it ends.
    pub fn check(&self) -> Result<(), HsmError> {
        if self.dkga == Dkga::Dkga02 && self.ea.key_width() == KeyWidth::Bits128 {
            return Err(HsmError::KeyWidth {
                dkga: Dkga::Dkga02,
                algorithm: self.ea,
            });
        }
        for use_ in [KeyUse::Credit, KeyUse::KeyChange] {
            let w = self.window(use_);
            if let (Some(f), Some(u)) = (w.from, w.until) {
                if f >= u {
                    return Err(HsmError::WindowOrder { use_ });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::JsonCategory;

    const P1: &str = r#"{"sgc": "123456", "krn": 1, "kt": 2, "dkga": "02", "ea": "07",
        "base_date": 1993, "ken": 255,
        "credit_window": {"from": "2024-01-01T00:00Z", "until": "2030-12-31T23:59Z"}}"#;

    #[test]
    fn round_trips() {
        let r = VendingKeyRecord::from_json(P1).unwrap();
        assert_eq!(r.id.to_string(), "sgc123456-krn1-kt2");
        assert_eq!(
            r.credit_window.from,
            Some(UtcMinute::from_civil(2024, 1, 1, 0, 0).unwrap())
        );
        assert_eq!(r.key_change_window, Window::ALWAYS);
        let again = VendingKeyRecord::from_json(&r.to_json()).unwrap();
        assert_eq!(again, r);
        assert!(r.to_json().contains(r#""until":"2030-12-31T23:59Z""#));
    }

    #[test]
    fn refuses_precisely() {
        let bad_window = P1.replace("2030-12-31T23:59Z", "2020-01-01T00:00Z");
        assert_eq!(
            VendingKeyRecord::from_json(&bad_window).unwrap_err(),
            HsmError::WindowOrder {
                use_: KeyUse::Credit
            }
        );
        let bad_time = P1.replace("2030-12-31T23:59Z", "2030-02-30T00:00Z");
        assert_eq!(
            VendingKeyRecord::from_json(&bad_time).unwrap_err(),
            HsmError::TimeFormat
        );
        let misty02 = P1.replace(r#""ea": "07""#, r#""ea": "11""#);
        assert!(matches!(
            VendingKeyRecord::from_json(&misty02).unwrap_err(),
            HsmError::KeyWidth { .. }
        ));
        let unknown = P1.replace(r#""ken": 255"#, r#""ken": 255, "key": "ABAB""#);
        let err = VendingKeyRecord::from_json(&unknown).unwrap_err();
        assert!(
            matches!(
                err,
                HsmError::Json {
                    doc: JsonDoc::Record,
                    category: JsonCategory::Data,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.to_string().contains("ABAB"), "{err}");
    }

    #[test]
    fn times_parse_exactly() {
        assert_eq!(
            parse_minute("2004-03-01T13:55Z").unwrap(),
            UtcMinute::from_civil(2004, 3, 1, 13, 55).unwrap()
        );
        for bad in [
            "2004-03-01T13:55",
            "2004-03-01 13:55Z",
            "2004-3-01T13:55Z",
            "2004-03-01T24:00Z",
            "+004-03-01T13:55Z",
        ] {
            assert_eq!(parse_minute(bad), Err(HsmError::TimeFormat), "{bad}");
        }
    }

    #[test]
    fn key_ids_parse_back() {
        let id: VendingKeyId = "sgc000123-krn9-kt3".parse().unwrap();
        assert_eq!(id.to_string(), "sgc000123-krn9-kt3");
        for bad in [
            "sgc123456-krn1",
            "sgc12345-krn1-kt2",
            "sgc123456-krn10-kt2",
            "xyz",
        ] {
            assert_eq!(
                bad.parse::<VendingKeyId>(),
                Err(HsmError::KeyIdFormat),
                "{bad}"
            );
        }
        assert!(matches!(
            "sgc123456-krn0-kt2".parse::<VendingKeyId>(),
            Err(HsmError::Codec(_))
        ));
    }
}
