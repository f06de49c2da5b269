//! DKGA04: decoder keys from a 160-bit vending key with HMAC-SHA-256 (SPEC-crypto §5.7,
//! SPEC-codec Appendix A.2).
//!
//! `DK = leftmost L bits of HMAC-SHA-256(key = VK, M)`, L = 64 (STA, DEA) or 128 (MISTY1), with
//! the message (all items ASCII, each preceded by its length, each group by its item count):
//!
//! ```text
//! 04 | 02 "04" | 02 BD | 02 EA | 02 TI | 00 | 04 | 06 SGC | 01 KT | 01 KRN | 12 PAN | L (u32 BE)
//! ```
//!
//! Brief decision 6: this is the layout with the two `04` item-count bytes, the one that
//! reproduces the DKGA04 vectors; a port of decompiled vending code omits them and does not.

use hmac::Hmac;
use hmac::digest::{FixedOutput, Key, KeyInit, Update};
use sha2::Sha256;
use token_codec::{
    BaseDate, DecoderKey, DecoderKey64, DecoderKey128, EncryptionAlgorithm, KeyType, KeyWidth,
};
use zeroize::Zeroize;

use super::MeterIdentity;
use crate::error::HsmError;
use crate::vending_key::VendingKey160;

/// Length of every DKGA04 message in bytes: all its items have fixed lengths.
const MESSAGE_LEN: usize = 49;

/// The DKGA04 message M of one meter, in a fixed buffer (SPEC-crypto §5.7). Not secret: it
/// holds the meter's identity only. It remembers the key width its L field asks for, so
/// [`dkga04_finish`] takes exactly that many bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dkga04Message {
    bytes: [u8; MESSAGE_LEN],
    width: KeyWidth,
}

impl Dkga04Message {
    /// Message length in bytes.
    pub const LEN: usize = MESSAGE_LEN;

    /// The message bytes, the HMAC input.
    pub const fn as_bytes(&self) -> &[u8; MESSAGE_LEN] {
        &self.bytes
    }

    /// The decoder key width the message's L field asks for.
    pub const fn key_width(&self) -> KeyWidth {
        self.width
    }
}

/// Appends to a fixed buffer. The message layout fills it exactly (checked by the spec-example
/// test); writing past the end would drop bytes rather than panic.
struct Writer {
    bytes: [u8; MESSAGE_LEN],
    at: usize,
}

impl Writer {
    fn put(&mut self, src: &[u8]) {
        for (dst, s) in self.bytes.iter_mut().skip(self.at).zip(src) {
            *dst = *s;
        }
        self.at = self.at.saturating_add(src.len());
    }

    /// One item: its length byte, then its bytes (every item is under 256 bytes).
    fn item(&mut self, src: &[u8]) {
        self.put(&[u8::try_from(src.len()).unwrap_or(u8::MAX)]);
        self.put(src);
    }
}

/// `N` ASCII decimal digits of `value`, zero-padded.
fn ascii_digits<const N: usize>(mut value: u32) -> [u8; N] {
    let mut out = [b'0'; N];
    for slot in out.iter_mut().rev() {
        let [digit, ..] = (value % 10).to_le_bytes();
        *slot = b'0' + digit;
        value /= 10;
    }
    out
}

/// Builds the DKGA04 message for a meter, a base date and the meter's encryption algorithm
/// (which fixes L).
///
/// The EA item is the algorithm's two-digit code ("07", "09", "11"); the brief names only 07
/// and 11, and 09 is written the same way. A common key (KT 3, DCTK) is refused with
/// [`HsmError::Dkga04CommonKey`]: the brief establishes which PAN DKGA02 uses for it but not
/// which the DKGA04 message carries, and a meter's own PAN would give every meter a different
/// "common" key. We refuse rather than guess a key another vending system might not reproduce.
pub fn dkga04_message(
    id: &MeterIdentity,
    base_date: BaseDate,
    ea: EncryptionAlgorithm,
) -> Result<Dkga04Message, HsmError> {
    if id.kt() == KeyType::Dctk {
        return Err(HsmError::Dkga04CommonKey);
    }
    let width = ea.key_width();
    let mut w = Writer {
        bytes: [0; MESSAGE_LEN],
        at: 0,
    };
    // Label: 4 items.
    w.put(&[4]);
    w.item(b"04");
    w.item(base_date.code().as_bytes());
    w.item(&ascii_digits::<2>(u32::from(ea.code())));
    w.item(&ascii_digits::<2>(u32::from(id.ti().get())));
    w.put(&[0]);
    // Context: 4 items.
    w.put(&[4]);
    w.item(&ascii_digits::<6>(id.sgc().get()));
    w.item(&ascii_digits::<1>(u32::from(id.kt().bits())));
    w.item(&ascii_digits::<1>(u32::from(id.krn().get())));
    w.item(id.pan().as_ascii());
    // L: the key length in bits.
    w.put(&u32::from(width.bits()).to_be_bytes());
    debug_assert_eq!(
        w.at, MESSAGE_LEN,
        "DKGA04 message layout must fill its buffer"
    );
    Ok(Dkga04Message {
        bytes: w.bytes,
        width,
    })
}

/// The first `N` bytes of `src`.
fn leading<const N: usize>(src: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (dst, s) in out.iter_mut().zip(src) {
        *dst = *s;
    }
    out
}

/// The last DKGA04 step, shared by the software path and any HSM path that returns the MAC:
/// the decoder key is the MAC's first 8 bytes (64-bit key) or 16 bytes (128-bit key), as
/// `message` asks. `mac` is secret and zeroized here once used.
pub fn dkga04_finish(message: &Dkga04Message, mac: &mut [u8; 32]) -> DecoderKey {
    let key = match message.key_width() {
        KeyWidth::Bits64 => {
            let mut bytes = leading::<8>(mac);
            let key = DecoderKey64::from_bytes(bytes);
            bytes.zeroize();
            DecoderKey::Bits64(key)
        }
        KeyWidth::Bits128 => {
            let mut bytes = leading::<16>(mac);
            let key = DecoderKey128::from_bytes(bytes);
            bytes.zeroize();
            DecoderKey::Bits128(key)
        }
    };
    mac.zeroize();
    key
}

/// Derives a meter's decoder key from a DKGA04 vending key in software (SPEC-crypto §5.7). The
/// key width follows from `ea`: 64 bits for STA and DEA, 128 for MISTY1.
pub fn dkga04(
    vk: &VendingKey160,
    id: &MeterIdentity,
    base_date: BaseDate,
    ea: EncryptionAlgorithm,
) -> Result<DecoderKey, HsmError> {
    let message = dkga04_message(id, base_date, ea)?;
    // HMAC pads a key shorter than the hash block with zeros (RFC 2104 §2); padding it here
    // to the 64-byte block lets us use the infallible `KeyInit::new`.
    let mut key_block = Key::<Hmac<Sha256>>::default();
    for (dst, src) in key_block.iter_mut().zip(vk.expose_bytes()) {
        *dst = *src;
    }
    let mut hmac = <Hmac<Sha256> as KeyInit>::new(&key_block);
    key_block.as_mut_slice().zeroize();
    hmac.update(message.as_bytes());
    let mut mac = [0u8; 32];
    hmac.finalize_into((&mut mac).into());
    Ok(dkga04_finish(&message, &mut mac))
}

#[cfg(test)]
mod tests {
    use super::*;
    use token_codec::KeyRevision;

    const VK: [u8; 20] = [
        0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0xAB, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94, 0x94,
        0x94, 0x01, 0x23, 0x45, 0x67,
    ];

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn id(sgc: &str, krn: u8) -> MeterIdentity {
        MeterIdentity::new(
            "600727000000000009".parse().unwrap(),
            sgc.parse().unwrap(),
            "01".parse().unwrap(),
            KeyRevision::new(krn).unwrap(),
            KeyType::Dutk,
        )
    }

    fn derive(sgc: &str, krn: u8, bd: BaseDate, ea: EncryptionAlgorithm) -> Vec<u8> {
        let dk = dkga04(&VendingKey160::from_bytes(VK), &id(sgc, krn), bd, ea).unwrap();
        dk.expose_bytes().to_vec()
    }

    /// The message printed in SPEC-crypto §5.7 (BD 93, EA 11, TI 01, SGC 123457, KT 2, KRN 1,
    /// P1, L = 128): evidence from outside our code.
    #[test]
    fn message_matches_spec_example() {
        let m = dkga04_message(
            &id("123457", 1),
            BaseDate::Y1993,
            EncryptionAlgorithm::Misty1,
        )
        .unwrap();
        let want = hex(
            "04023034023933023131023031000406313233343537013201311236303037323730303030303030\
             303030303900000080",
        );
        assert_eq!(want.len(), Dkga04Message::LEN);
        assert_eq!(m.as_bytes().as_slice(), want.as_slice());
        assert_eq!(m.key_width(), KeyWidth::Bits128);
    }

    /// SPEC-crypto §5.7 / §7.3 and the STSCompliancePOS list (SPEC-codec §7.2).
    #[test]
    fn public_vectors() {
        use BaseDate::*;
        use EncryptionAlgorithm::*;
        let cases = [
            ("123457", 1, Y1993, Sta, "AA4BAA8749C10D27"),
            ("123457", 4, Y2014, Sta, "9DC0722C29A6CC0C"),
            ("123457", 5, Y2035, Sta, "B08205E074AFC5D6"),
            ("201457", 1, Y2014, Sta, "87F3ECBB2E46B48F"),
            (
                "123457",
                1,
                Y1993,
                Misty1,
                "F94B6ED353C3BFDB113E2D3A7EA3C41D",
            ),
        ];
        for (sgc, krn, bd, ea, want) in cases {
            assert_eq!(
                derive(sgc, krn, bd, ea),
                hex(want),
                "{sgc} krn {krn} {bd} {ea}"
            );
        }
    }

    #[test]
    fn finish_takes_the_width_asked_and_zeroizes() {
        let m64 =
            dkga04_message(&id("123457", 1), BaseDate::Y1993, EncryptionAlgorithm::Sta).unwrap();
        assert_eq!(&m64.as_bytes()[45..], &[0, 0, 0, 0x40]);
        let mut mac: [u8; 32] = core::array::from_fn(|i| u8::try_from(i).unwrap());
        let dk = dkga04_finish(&m64, &mut mac);
        assert_eq!(dk.expose_bytes(), &[0, 1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(mac, [0; 32]);
    }

    #[test]
    fn common_key_is_refused() {
        let id = MeterIdentity::new(
            "600727000000000009".parse().unwrap(),
            "123457".parse().unwrap(),
            "01".parse().unwrap(),
            KeyRevision::new(1).unwrap(),
            KeyType::Dctk,
        );
        let err = dkga04(
            &VendingKey160::from_bytes(VK),
            &id,
            BaseDate::Y1993,
            EncryptionAlgorithm::Sta,
        )
        .unwrap_err();
        assert_eq!(err, HsmError::Dkga04CommonKey);
    }
}
