//! The objects a vending key is kept as on the token, and the store's key-encryption key.
//!
//! Per vending key, both labelled with the [`VendingKeyId`] display form (`sgc123456-krn1-kt2`):
//! - a secret key object, token-resident, private, `CKA_SENSITIVE` true, `CKA_EXTRACTABLE`
//!   false, not modifiable or copyable, allowed exactly one use: `CKA_ENCRYPT` for a DKGA02 key
//!   (`CKK_DES3`, value K‖K‖K: 3DES-EDE with three equal keys is single DES) or `CKA_SIGN` for
//!   a DKGA04 key (`CKK_GENERIC_SECRET`, the 20-byte key followed by 12 zero bytes: SoftHSM
//!   refuses HMAC keys under 32 bytes, and HMAC zero-pads short keys anyway, so the MAC is
//!   the same as with the 20-byte key);
//! - a data object (`CKO_DATA`, private, not modifiable, `CKA_APPLICATION` =
//!   `sts-vending-key-record/1`) whose value is JSON: the record, and for DKGA02 the sealed
//!   XOR term (see the parent module).
//!
//! The store's key-encryption key (KEK), labelled `sts-keystore-kek`, is an AES-256 key
//! generated inside the token (`C_GenerateKey`), sensitive, non-extractable, used only to
//! encrypt and decrypt DKGA02 XOR terms with AES-GCM.

use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::session::{CallError, step};
use crate::error::{ObjectFault, Pkcs11Error, Pkcs11Op};
use crate::store::json::RecordDoc;
use crate::store::{VendingKeyId, VendingKeyRecord};
use crate::vending_key::{VendingKey, VendingKey64};

/// The key-encryption key's label.
pub(super) const KEK_LABEL: &str = "sts-keystore-kek";
/// `CKA_APPLICATION` of record objects.
pub(super) const RECORD_APPLICATION: &[u8] = b"sts-vending-key-record/1";
const XOR_TERM_AAD: &[u8] = b"sts-dkga02-xor-term/1:";
const GCM_IV_LEN: usize = 12;

/// A DKGA02 XOR term encrypted under the KEK with AES-256-GCM; the associated data binds it
/// to its key's label, so a term cannot be moved to another key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct SealedTerm {
    #[serde(with = "hex_bytes")]
    iv: Vec<u8>,
    #[serde(with = "hex_bytes")]
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRecord {
    record: RecordDoc,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    xor_term: Option<SealedTerm>,
}

/// A vending key as found on the token.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) record: VendingKeyRecord,
    pub(super) key: ObjectHandle,
    pub(super) xor_term: Option<SealedTerm>,
}

fn label_of(id: &VendingKeyId) -> Vec<u8> {
    id.to_string().into_bytes()
}

fn object_error(id: &VendingKeyId, fault: ObjectFault) -> CallError {
    Pkcs11Error::Object {
        label: id.to_string(),
        fault,
    }
    .into()
}

/// The KEK's handle, if the store was initialized.
pub(super) fn find_kek(s: &Session) -> Result<Option<ObjectHandle>, CallError> {
    let found = step(
        Pkcs11Op::FindObjects,
        s.find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(KEK_LABEL.as_bytes().to_vec()),
        ]),
    )?;
    Ok(found.first().copied())
}

/// Generates the KEK inside the token.
pub(super) fn generate_kek(s: &Session) -> Result<ObjectHandle, CallError> {
    step(
        Pkcs11Op::GenerateKek,
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(32.into()),
                Attribute::Label(KEK_LABEL.as_bytes().to_vec()),
                Attribute::Token(true),
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::Encrypt(true),
                Attribute::Decrypt(true),
                Attribute::Wrap(false),
                Attribute::Unwrap(false),
                Attribute::Sign(false),
                Attribute::Derive(false),
                Attribute::Modifiable(false),
            ],
        ),
    )
}

/// Every object labelled with `id` (key and record; after a crash, possibly one of them).
pub(super) fn find_labelled(
    s: &Session,
    id: &VendingKeyId,
) -> Result<Vec<ObjectHandle>, CallError> {
    step(
        Pkcs11Op::FindObjects,
        s.find_objects(&[Attribute::Label(label_of(id))]),
    )
}

/// Creates the non-extractable secret key object for `key`. The template's copy of the key
/// is zeroized after the call.
pub(super) fn create_key(
    s: &Session,
    id: &VendingKeyId,
    key: &VendingKey,
) -> Result<ObjectHandle, CallError> {
    let (key_type, value, usage) = match key {
        VendingKey::Dkga02(k) => {
            let mut v = Vec::with_capacity(24);
            for _ in 0..3 {
                v.extend_from_slice(k.expose_bytes());
            }
            (KeyType::DES3, v, Attribute::Encrypt(true))
        }
        VendingKey::Dkga04(k) => {
            let mut v = Vec::with_capacity(32);
            v.extend_from_slice(k.expose_bytes());
            v.resize(32, 0);
            (KeyType::GENERIC_SECRET, v, Attribute::Sign(true))
        }
    };
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(key_type),
        Attribute::Value(value),
        Attribute::Label(label_of(id)),
        Attribute::Id(label_of(id)),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Modifiable(false),
        Attribute::Copyable(false),
        Attribute::Encrypt(false),
        Attribute::Decrypt(false),
        Attribute::Sign(false),
        Attribute::Verify(false),
        Attribute::Wrap(false),
        Attribute::Unwrap(false),
        Attribute::Derive(false),
    ];
    // The one allowed use overrides its `false` above (later attributes are not merged by
    // PKCS#11, so replace rather than append).
    for attr in template.iter_mut() {
        let same = std::mem::discriminant(attr) == std::mem::discriminant(&usage);
        if same {
            *attr = usage.clone();
        }
    }
    let created = s.create_object(&template);
    for attr in template.iter_mut() {
        if let Attribute::Value(v) = attr {
            v.zeroize();
        }
    }
    step(Pkcs11Op::CreateKey, created)
}

fn gcm_aad(id: &VendingKeyId) -> Vec<u8> {
    let mut aad = XOR_TERM_AAD.to_vec();
    aad.extend_from_slice(&label_of(id));
    aad
}

/// Encrypts the DKGA02 XOR term (the vending key itself) under the KEK, inside the token.
pub(super) fn seal_xor_term(
    s: &Session,
    kek: ObjectHandle,
    id: &VendingKeyId,
    vk: &VendingKey64,
) -> Result<SealedTerm, CallError> {
    let mut iv = vec![0u8; GCM_IV_LEN];
    getrandom::fill(&mut iv).map_err(|_| CallError::Hsm(crate::error::HsmError::Random))?;
    let aad = gcm_aad(id);
    let mut iv_param = iv.clone();
    let params =
        GcmParams::new(&mut iv_param, &aad, 128.into()).map_err(|err| CallError::Pkcs11 {
            op: Pkcs11Op::SealXorTerm,
            err,
        })?;
    let ciphertext = step(
        Pkcs11Op::SealXorTerm,
        s.encrypt(&Mechanism::AesGcm(params), kek, vk.expose_bytes()),
    )?;
    Ok(SealedTerm { iv, ciphertext })
}

/// Decrypts a DKGA02 XOR term inside the token. The plaintext arrives in a cryptoki `Vec`,
/// which is moved into a zeroizing buffer at once and copied into the zeroizing key.
pub(super) fn unseal_xor_term(
    s: &Session,
    kek: ObjectHandle,
    id: &VendingKeyId,
    term: &SealedTerm,
) -> Result<VendingKey64, CallError> {
    let aad = gcm_aad(id);
    let mut iv = term.iv.clone();
    let params = GcmParams::new(&mut iv, &aad, 128.into()).map_err(|err| CallError::Pkcs11 {
        op: Pkcs11Op::UnsealXorTerm,
        err,
    })?;
    let plain = Zeroizing::new(step(
        Pkcs11Op::UnsealXorTerm,
        s.decrypt(&Mechanism::AesGcm(params), kek, &term.ciphertext),
    )?);
    VendingKey64::try_from_slice(&plain).map_err(|_| object_error(id, ObjectFault::MissingXorTerm))
}

/// Creates the record object.
pub(super) fn create_record(
    s: &Session,
    record: &VendingKeyRecord,
    xor_term: Option<SealedTerm>,
) -> Result<ObjectHandle, CallError> {
    let stored = StoredRecord {
        record: RecordDoc::from(record),
        xor_term,
    };
    let value = serde_json::to_vec(&stored).unwrap_or_default();
    step(
        Pkcs11Op::CreateRecord,
        s.create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Label(label_of(&record.id)),
            Attribute::Application(RECORD_APPLICATION.to_vec()),
            Attribute::Value(value),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Modifiable(false),
        ]),
    )
}

fn record_template() -> [Attribute; 2] {
    [
        Attribute::Class(ObjectClass::DATA),
        Attribute::Application(RECORD_APPLICATION.to_vec()),
    ]
}

/// Reads and parses one record object.
fn read_record(s: &Session, handle: ObjectHandle) -> Result<(String, StoredRecord), CallError> {
    let attrs = step(
        Pkcs11Op::ReadAttributes,
        s.get_attributes(handle, &[AttributeType::Label, AttributeType::Value]),
    )?;
    let mut label = String::new();
    let mut value = Vec::new();
    for attr in attrs {
        match attr {
            Attribute::Label(l) => label = String::from_utf8_lossy(&l).into_owned(),
            Attribute::Value(v) => value = v,
            _ => {}
        }
    }
    let bad = || {
        CallError::from(Pkcs11Error::Object {
            label: label.clone(),
            fault: ObjectFault::RecordFormat,
        })
    };
    let stored: StoredRecord = serde_json::from_slice(&value).map_err(|_| bad())?;
    Ok((label, stored))
}

fn parse(label: &str, stored: &StoredRecord) -> Result<VendingKeyRecord, CallError> {
    let record = VendingKeyRecord::try_from(&stored.record).map_err(|_| {
        CallError::from(Pkcs11Error::Object {
            label: label.to_owned(),
            fault: ObjectFault::RecordFormat,
        })
    })?;
    if record.id.to_string() != label {
        return Err(object_error(&record.id, ObjectFault::LabelMismatch));
    }
    Ok(record)
}

/// Every record on the token.
pub(super) fn list_records(s: &Session) -> Result<Vec<VendingKeyRecord>, CallError> {
    let handles = step(Pkcs11Op::FindObjects, s.find_objects(&record_template()))?;
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        let (label, stored) = read_record(s, handle)?;
        out.push(parse(&label, &stored)?);
    }
    out.sort_by_key(|r| r.id);
    Ok(out)
}

/// Finds a vending key's record and key object; `None` if it has no record.
pub(super) fn load_entry(s: &Session, id: &VendingKeyId) -> Result<Option<Entry>, CallError> {
    let mut template = record_template().to_vec();
    template.push(Attribute::Label(label_of(id)));
    let Some(&handle) = step(Pkcs11Op::FindObjects, s.find_objects(&template))?.first() else {
        return Ok(None);
    };
    let (label, stored) = read_record(s, handle)?;
    let record = parse(&label, &stored)?;
    let keys = step(
        Pkcs11Op::FindObjects,
        s.find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(label_of(id)),
        ]),
    )?;
    let key = *keys
        .first()
        .ok_or_else(|| object_error(id, ObjectFault::MissingKey))?;
    if record.dkga == crate::derive::Dkga::Dkga02 && stored.xor_term.is_none() {
        return Err(object_error(id, ObjectFault::MissingXorTerm));
    }
    Ok(Some(Entry {
        record,
        key,
        xor_term: stored.xor_term,
    }))
}

/// Hex (de)serialization of non-secret bytes (IVs, ciphertexts).
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <&str>::deserialize(d)?;
        let mut out = vec![0u8; text.len() / 2];
        if text.len() % 2 != 0 || crate::hex::decode_into(text.as_bytes(), &mut out).is_err() {
            return Err(serde::de::Error::custom("not hex"));
        }
        Ok(out)
    }
}
