//! The keyed steps on the token: DKGA02's DES and DKGA04's HMAC (see the parent module for
//! what leaves the token and why), and key check values computed by the token.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::ObjectHandle;
use cryptoki::session::Session;
use token_codec::{DecoderKey, KeyWidth};
use zeroize::Zeroizing;

use super::objects::{self, Entry};
use super::session::{CallError, step};
use crate::ceremony::Kcv;
use crate::derive::{
    Dkga, MeterIdentity, dkga02_finish, dkga02_input, dkga04_finish, dkga04_message,
};
use crate::error::{HsmError, ObjectFault, Pkcs11Error, Pkcs11Op};

/// The token's output, moved at once into a zeroizing fixed-size buffer.
fn fixed<const N: usize>(op: Pkcs11Op, out: Vec<u8>) -> Result<Zeroizing<[u8; N]>, CallError> {
    let out = Zeroizing::new(out);
    let mut buf = Zeroizing::new([0u8; N]);
    if out.len() != N {
        return Err(Pkcs11Error::Binding { op }.into());
    }
    buf.copy_from_slice(&out);
    Ok(buf)
}

/// DKGA02 or DKGA04 for `meter` with the key's objects (see the module documentation).
pub(super) fn derive_on_token(
    s: &Session,
    entry: &Entry,
    kek: ObjectHandle,
    meter: &MeterIdentity,
) -> Result<DecoderKey, CallError> {
    let r = &entry.record;
    match r.dkga {
        Dkga::Dkga02 => {
            if r.ea.key_width() == KeyWidth::Bits128 {
                return Err(HsmError::KeyWidth {
                    dkga: Dkga::Dkga02,
                    algorithm: r.ea,
                }
                .into());
            }
            let input = dkga02_input(meter);
            let op = Pkcs11Op::Dkga02Encrypt;
            let mut o = fixed::<8>(
                op,
                step(op, s.encrypt(&Mechanism::Des3Ecb, entry.key, &input))?,
            )?;
            let term = entry.xor_term.as_ref().ok_or_else(|| {
                CallError::from(Pkcs11Error::Object {
                    label: r.id.to_string(),
                    fault: ObjectFault::MissingXorTerm,
                })
            })?;
            // VK leaves the token here, for this one XOR (see the module documentation).
            let vk = objects::unseal_xor_term(s, kek, &r.id, term)?;
            Ok(DecoderKey::Bits64(dkga02_finish(&mut o, &input, &vk)))
        }
        Dkga::Dkga04 => {
            let message = dkga04_message(meter, r.base_date, r.ea)?;
            let op = Pkcs11Op::Dkga04Hmac;
            let mut mac = fixed::<32>(
                op,
                step(
                    op,
                    s.sign(&Mechanism::Sha256Hmac, entry.key, message.as_bytes()),
                )?,
            )?;
            Ok(dkga04_finish(&message, &mut mac))
        }
    }
}

/// The KCV computed by the token: DES of 8 zero bytes, or HMAC of 8 zero bytes (see [`Kcv`]).
pub(super) fn kcv_on_token(s: &Session, entry: &Entry) -> Result<Kcv, CallError> {
    let op = Pkcs11Op::Kcv;
    let out = Zeroizing::new(match entry.record.dkga {
        Dkga::Dkga02 => step(op, s.encrypt(&Mechanism::Des3Ecb, entry.key, &[0u8; 8]))?,
        Dkga::Dkga04 => step(op, s.sign(&Mechanism::Sha256Hmac, entry.key, &[0u8; 8]))?,
    });
    Ok(match entry.record.dkga {
        Dkga::Dkga02 => Kcv::from_des_output(&out),
        Dkga::Dkga04 => Kcv::from_hmac_output(&out),
    })
}
