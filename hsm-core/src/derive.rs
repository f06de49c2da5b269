//! Decoder key derivation in software (SPEC-crypto §5.3–§5.7, SPEC-codec Appendix A).
//!
//! Implemented:
//! - DKGA02: single DES keyed with a 64-bit vending key ([`dkga02`]);
//! - DKGA04: HMAC-SHA-256 keyed with a 160-bit vending key ([`dkga04`]).
//!
//! Not implemented, and refused by [`Dkga::from_str`] with [`HsmError::UnsupportedDkga`]:
//! - DKGA01, the legacy algorithm restricted to IIN 600727, KRN 1, EA07 and listed DRN ranges or
//!   supply groups; one unverified source, no public vector (SPEC-crypto §5.5);
//! - DKGA03, two-key TDES, withdrawn in the 2018 edition (SPEC-crypto §5.6).
//!
//! Each algorithm is split so that a PKCS#11 backend can share everything but the keyed step:
//! [`dkga02_input`] builds the DES input block and [`dkga02_finish`] combines the DES output;
//! [`dkga04_message`] builds the HMAC message and [`dkga04_finish`] takes the key from the MAC.
//! The software functions [`dkga02`] and [`dkga04`] are exactly those steps around an
//! in-process DES or HMAC.

mod dkga02;
mod dkga04;

use core::fmt;
use core::str::FromStr;

use token_codec::{
    BaseDate, DecoderKey, EncryptionAlgorithm, KeyRevision, KeyType, KeyWidth, SupplyGroupCode,
    TariffIndex,
};

use crate::error::HsmError;
use crate::ident::MeterPan;
use crate::vending_key::VendingKey;

pub use dkga02::{ControlBlock, dkga02, dkga02_finish, dkga02_input};
pub use dkga04::{Dkga04Message, dkga04, dkga04_finish, dkga04_message};

/// A decoder key generation algorithm this crate implements (SPEC-crypto §5.4, §5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dkga {
    /// DKGA02: DES with a 64-bit vending key; yields 64-bit keys only.
    Dkga02,
    /// DKGA04: HMAC-SHA-256 with a 160-bit vending key; yields 64- or 128-bit keys.
    Dkga04,
}

impl Dkga {
    /// The number in the algorithm's name (2 or 4).
    pub const fn code(self) -> u8 {
        match self {
            Dkga::Dkga02 => 2,
            Dkga::Dkga04 => 4,
        }
    }
}

impl FromStr for Dkga {
    type Err = HsmError;

    /// Two digits as key records and vectors write them: `"02"` or `"04"`. `"01"` and `"03"`
    /// are refused as not supported (see the module documentation).
    fn from_str(s: &str) -> Result<Self, HsmError> {
        let [tens, units] = s.as_bytes() else {
            return Err(HsmError::DkgaFormat);
        };
        if !tens.is_ascii_digit() || !units.is_ascii_digit() {
            return Err(HsmError::DkgaFormat);
        }
        match (tens - b'0') * 10 + (units - b'0') {
            2 => Ok(Dkga::Dkga02),
            4 => Ok(Dkga::Dkga04),
            code => Err(HsmError::UnsupportedDkga { code }),
        }
    }
}

impl fmt::Display for Dkga {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DKGA{:02}", self.code())
    }
}

/// Everything about a meter that goes into its decoder key: PAN, supply group code, tariff
/// index, key revision number and key type (SPEC-crypto §5.3, §5.7).
///
/// Each part is its own validated type, so the parts cannot be swapped by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MeterIdentity {
    pan: MeterPan,
    sgc: SupplyGroupCode,
    ti: TariffIndex,
    krn: KeyRevision,
    kt: KeyType,
}

impl MeterIdentity {
    /// Groups the parts of a meter's key identity.
    pub const fn new(
        pan: MeterPan,
        sgc: SupplyGroupCode,
        ti: TariffIndex,
        krn: KeyRevision,
        kt: KeyType,
    ) -> Self {
        Self {
            pan,
            sgc,
            ti,
            krn,
            kt,
        }
    }

    /// The meter PAN.
    pub const fn pan(&self) -> &MeterPan {
        &self.pan
    }

    /// The supply group code.
    pub const fn sgc(&self) -> SupplyGroupCode {
        self.sgc
    }

    /// The tariff index.
    pub const fn ti(&self) -> TariffIndex {
        self.ti
    }

    /// The key revision number.
    pub const fn krn(&self) -> KeyRevision {
        self.krn
    }

    /// The key type.
    pub const fn kt(&self) -> KeyType {
        self.kt
    }
}

/// Derives a meter's decoder key with the algorithm its vending key is for.
///
/// `ea` is the meter's encryption algorithm and fixes the key width; a DKGA02 request for a
/// 128-bit key (MISTY1) is [`HsmError::KeyWidth`], never a silent 64-bit key. `base_date` is an
/// input of DKGA04 only: DKGA02 binds the base date through the choice of vending key.
pub fn derive_decoder_key(
    vk: &VendingKey,
    id: &MeterIdentity,
    base_date: BaseDate,
    ea: EncryptionAlgorithm,
) -> Result<DecoderKey, HsmError> {
    match vk {
        VendingKey::Dkga02(vk) => match ea.key_width() {
            KeyWidth::Bits64 => Ok(DecoderKey::Bits64(dkga02(vk, id))),
            KeyWidth::Bits128 => Err(HsmError::KeyWidth {
                dkga: Dkga::Dkga02,
                algorithm: ea,
            }),
        },
        VendingKey::Dkga04(vk) => dkga04(vk, id, base_date, ea),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p1_identity(ti: &str) -> MeterIdentity {
        MeterIdentity::new(
            "600727000000000009".parse().unwrap(),
            "123456".parse().unwrap(),
            ti.parse().unwrap(),
            KeyRevision::new(1).unwrap(),
            KeyType::Dutk,
        )
    }

    #[test]
    fn dkga_codes() {
        assert_eq!("02".parse::<Dkga>().unwrap(), Dkga::Dkga02);
        assert_eq!("04".parse::<Dkga>().unwrap(), Dkga::Dkga04);
        assert_eq!(Dkga::Dkga04.to_string(), "DKGA04");
        let err = "01".parse::<Dkga>().unwrap_err();
        assert_eq!(err, HsmError::UnsupportedDkga { code: 1 });
        assert_eq!(
            err.to_string(),
            "key derivation DKGA01 is not supported: legacy algorithm restricted to listed DRN \
             ranges and supply groups, no public vector"
        );
        assert_eq!(
            "03".parse::<Dkga>().unwrap_err().to_string(),
            "key derivation DKGA03 is not supported: withdrawn in the 2018 edition"
        );
        assert_eq!(
            "05".parse::<Dkga>().unwrap_err().to_string(),
            "key derivation DKGA05 is not defined (supported: DKGA02, DKGA04)"
        );
        for bad in ["2", "002", "0x", "", "٠٢"] {
            assert_eq!(
                bad.parse::<Dkga>().unwrap_err(),
                HsmError::DkgaFormat,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn dispatcher_follows_the_vending_key() {
        let id = p1_identity("01");
        let vk = VendingKey::from_hex(Dkga::Dkga02, "ABABABABABABABAB").unwrap();
        let dk = derive_decoder_key(&vk, &id, BaseDate::Y1993, EncryptionAlgorithm::Sta).unwrap();
        assert_eq!(dk.expose_bytes(), 0xE653_341F_9D5B_F36Fu64.to_be_bytes());
        // DEA also takes a 64-bit key.
        assert!(derive_decoder_key(&vk, &id, BaseDate::Y2014, EncryptionAlgorithm::Dea).is_ok());
        let err =
            derive_decoder_key(&vk, &id, BaseDate::Y1993, EncryptionAlgorithm::Misty1).unwrap_err();
        assert_eq!(
            err,
            HsmError::KeyWidth {
                dkga: Dkga::Dkga02,
                algorithm: EncryptionAlgorithm::Misty1
            }
        );

        let id = MeterIdentity::new(
            *id.pan(),
            "123457".parse().unwrap(),
            id.ti(),
            id.krn(),
            id.kt(),
        );
        let vk =
            VendingKey::from_hex(Dkga::Dkga04, "abababababababab949494949494949401234567").unwrap();
        let dk =
            derive_decoder_key(&vk, &id, BaseDate::Y1993, EncryptionAlgorithm::Misty1).unwrap();
        assert_eq!(dk.width(), KeyWidth::Bits128);
        assert_eq!(
            dk.expose_bytes(),
            0xF94B_6ED3_53C3_BFDB_113E_2D3A_7EA3_C41Du128.to_be_bytes()
        );
    }
}
