//! The sealed store's file format, version 1. All integers big-endian.
//!
//! ```text
//! off len
//!   0   8  magic "STS-VKS\n"
//!   8   1  version = 1
//!   9   1  kdf = 1 (Argon2id, version 0x13)
//!  10   4  memory cost (KiB)
//!  14   4  iterations
//!  18   4  lanes
//!  22  16  salt
//!  38  24  nonce (XChaCha20-Poly1305)
//!  62  32  key check = HMAC-SHA-256(check key, "sts-vks key check" ‖ bytes 0..38)
//!  94   …  ciphertext ‖ 16-byte tag; associated data = bytes 0..94
//! ```
//!
//! Argon2id(passphrase, salt) yields 64 bytes: the AEAD key, then the check key. The key check
//! covers only the KDF part of the header, so it answers one question, "is this the
//! passphrase?", before decryption is tried: a mismatch is a wrong passphrase (or an altered
//! salt or cost, which changes the derived key the same way), and an AEAD failure after a
//! matching check means the file was altered. The AEAD's associated data binds the whole
//! header. Each write draws a fresh random 24-byte nonce; salt and costs stay, so the key is
//! derived once per open.
//!
//! The plaintext body: `u32` entry count, then per entry `u16` length ‖ record JSON (see
//! [`crate::store`]'s JSON form) ‖ `u8` key length ‖ key bytes. It is built in one buffer of
//! exactly the right capacity, so no reallocation leaves a copy of a key behind, encrypted in
//! place, and zeroized.

use std::path::Path;

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::AeadInPlace;
use hmac::Hmac;
use hmac::digest::{FixedOutput, Key, KeyInit, Update};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use crate::error::{FormatFault, HsmError, SealedError};
use crate::passphrase::Passphrase;
use crate::store::{VendingKeyRecord, json::RecordDoc};
use crate::vending_key::VendingKey;

const MAGIC: [u8; 8] = *b"STS-VKS\n";
const VERSION: u8 = 1;
const KDF_ARGON2ID: u8 = 1;
const KDF_END: usize = 38;
const NONCE_END: usize = 62;
/// Header length; the ciphertext follows.
pub(super) const HEADER_LEN: usize = 94;
const TAG_LEN: usize = 16;
const CHECK_LABEL: &[u8] = b"sts-vks key check";

/// Argon2id costs. Stored in the file, so a store opens with the costs it was sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Parallel lanes.
    pub lanes: u32,
}

impl KdfCost {
    /// OWASP's Argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    pub const DEFAULT: Self = Self {
        memory_kib: 19 * 1024,
        iterations: 2,
        lanes: 1,
    };

    /// Costs a file may ask for: at most 1 GiB, 16 iterations, 16 lanes, so a planted file
    /// cannot make opening it exhaust the machine.
    fn in_bounds(self) -> bool {
        (1..=16).contains(&self.lanes)
            && (1..=16).contains(&self.iterations)
            && self.memory_kib >= 8 * self.lanes
            && self.memory_kib <= 1024 * 1024
    }
}

/// The key-derivation part of the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Kdf {
    pub(super) cost: KdfCost,
    pub(super) salt: [u8; 16],
}

impl Kdf {
    fn bytes(&self) -> [u8; KDF_END] {
        let mut out = [0u8; KDF_END];
        let fields: [&[u8]; 6] = [
            &MAGIC,
            &[VERSION, KDF_ARGON2ID],
            &self.cost.memory_kib.to_be_bytes(),
            &self.cost.iterations.to_be_bytes(),
            &self.cost.lanes.to_be_bytes(),
            &self.salt,
        ];
        let mut at = 0;
        for field in fields {
            for (dst, src) in out.iter_mut().skip(at).zip(field) {
                *dst = *src;
            }
            at += field.len();
        }
        out
    }
}

/// The two keys derived from the passphrase; zeroized on drop.
pub(super) struct SealKeys {
    aead: Zeroizing<[u8; 32]>,
    check: Zeroizing<[u8; 32]>,
}

fn format_error(path: &Path, fault: FormatFault) -> HsmError {
    SealedError::Format {
        path: path.to_path_buf(),
        fault,
    }
    .into()
}

/// Runs Argon2id over the passphrase. Costs are checked in bounds before (Argon2 refuses only
/// costs outside them).
pub(super) fn derive_keys(
    path: &Path,
    passphrase: &Passphrase,
    kdf: &Kdf,
) -> Result<SealKeys, HsmError> {
    let cost_error = |_| format_error(path, FormatFault::KdfCost);
    let params = argon2::Params::new(
        kdf.cost.memory_kib,
        kdf.cost.iterations,
        kdf.cost.lanes,
        Some(64),
    )
    .map_err(cost_error)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 64]);
    argon
        .hash_password_into(
            passphrase.expose().as_bytes(),
            &kdf.salt,
            out.as_mut_slice(),
        )
        .map_err(cost_error)?;
    let mut keys = SealKeys {
        aead: Zeroizing::new([0; 32]),
        check: Zeroizing::new([0; 32]),
    };
    let (a, c) = out.split_at(32);
    keys.aead.copy_from_slice(a);
    keys.check.copy_from_slice(c);
    Ok(keys)
}

fn key_check(keys: &SealKeys, kdf: &Kdf) -> [u8; 32] {
    // Zero-padded to the block as RFC 2104 does, so the infallible `new` applies.
    let mut block = Key::<Hmac<Sha256>>::default();
    for (dst, src) in block.iter_mut().zip(keys.check.iter()) {
        *dst = *src;
    }
    let mut mac = <Hmac<Sha256> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    mac.update(CHECK_LABEL);
    mac.update(&kdf.bytes());
    mac.finalize_fixed().into()
}

/// Seals `body` (which should have [`TAG_LEN`] spare capacity) into complete file bytes.
pub(super) fn seal(
    path: &Path,
    keys: &SealKeys,
    kdf: &Kdf,
    mut body: Zeroizing<Vec<u8>>,
) -> Result<Vec<u8>, HsmError> {
    let mut nonce = [0u8; 24];
    getrandom::fill(&mut nonce).map_err(|_| HsmError::Random)?;
    let mut header = Vec::with_capacity(HEADER_LEN + body.len() + TAG_LEN);
    header.extend_from_slice(&kdf.bytes());
    header.extend_from_slice(&nonce);
    header.extend_from_slice(&key_check(keys, kdf));
    let cipher = XChaCha20Poly1305::new((&*keys.aead).into());
    // Fails only for a body over 256 GiB.
    cipher
        .encrypt_in_place((&nonce).into(), &header, &mut *body)
        .map_err(|_| format_error(path, FormatFault::Body))?;
    header.extend_from_slice(&body);
    Ok(header)
}

/// Reads the KDF part of a file's header.
pub(super) fn read_kdf(bytes: &[u8]) -> Result<Kdf, FormatFault> {
    if bytes.len() < HEADER_LEN + TAG_LEN {
        if bytes.get(..8).is_some_and(|m| m != MAGIC) {
            return Err(FormatFault::Magic);
        }
        return Err(FormatFault::Truncated { len: bytes.len() });
    }
    let mut r = Reader(bytes);
    if r.take::<8>()? != MAGIC {
        return Err(FormatFault::Magic);
    }
    let [version, kdf] = r.take::<2>()?;
    if version != VERSION || kdf != KDF_ARGON2ID {
        return Err(FormatFault::Version { got: version });
    }
    let cost = KdfCost {
        memory_kib: u32::from_be_bytes(r.take()?),
        iterations: u32::from_be_bytes(r.take()?),
        lanes: u32::from_be_bytes(r.take()?),
    };
    if !cost.in_bounds() {
        return Err(FormatFault::KdfCost);
    }
    Ok(Kdf {
        cost,
        salt: r.take()?,
    })
}

/// Checks the passphrase, then decrypts. `path` only names the file in errors.
pub(super) fn open(
    path: &Path,
    keys: &SealKeys,
    kdf: &Kdf,
    bytes: &[u8],
) -> Result<Zeroizing<Vec<u8>>, HsmError> {
    let truncated = || format_error(path, FormatFault::Truncated { len: bytes.len() });
    let (header, ciphertext) = bytes.split_at_checked(HEADER_LEN).ok_or_else(truncated)?;
    let mut r = Reader(header);
    r.slice(KDF_END).ok_or_else(truncated)?;
    let nonce: [u8; NONCE_END - KDF_END] = r.take().map_err(|_| truncated())?;
    let stored_check: [u8; 32] = r.take().map_err(|_| truncated())?;
    if !bool::from(stored_check.ct_eq(&key_check(keys, kdf))) {
        return Err(SealedError::WrongPassphrase {
            path: path.to_path_buf(),
        }
        .into());
    }
    let mut body = Zeroizing::new(Vec::with_capacity(ciphertext.len()));
    body.extend_from_slice(ciphertext);
    XChaCha20Poly1305::new((&*keys.aead).into())
        .decrypt_in_place((&nonce).into(), header, &mut *body)
        .map_err(|_| SealedError::Tampered {
            path: path.to_path_buf(),
        })?;
    Ok(body)
}

/// Encodes the body for `entries`, with room for the tag.
pub(super) fn encode_body<'a>(
    path: &Path,
    entries: impl Iterator<Item = (&'a VendingKeyRecord, &'a VendingKey)> + Clone,
) -> Result<Zeroizing<Vec<u8>>, HsmError> {
    // Records are not secret: serialize them first, then size the secret buffer exactly.
    let docs: Vec<String> = entries.clone().map(|(r, _)| r.to_json()).collect();
    let too_big = |_| format_error(path, FormatFault::Body);
    let count = u32::try_from(docs.len()).map_err(too_big)?;
    let size = 4 + docs.iter().map(|d| 2 + d.len() + 1 + 20).sum::<usize>() + TAG_LEN;
    let mut body = Zeroizing::new(Vec::with_capacity(size));
    body.extend_from_slice(&count.to_be_bytes());
    for (doc, (_, key)) in docs.iter().zip(entries) {
        let len = u16::try_from(doc.len()).map_err(too_big)?;
        body.extend_from_slice(&len.to_be_bytes());
        body.extend_from_slice(doc.as_bytes());
        let bytes: &[u8] = match key {
            VendingKey::Dkga02(k) => k.expose_bytes(),
            VendingKey::Dkga04(k) => k.expose_bytes(),
        };
        // Key lengths are 8 or 20.
        body.push(u8::try_from(bytes.len()).unwrap_or(u8::MAX));
        body.extend_from_slice(bytes);
    }
    Ok(body)
}

/// Decodes a body into records and keys. Any fault is [`FormatFault::Body`]: the body was
/// authenticated, so a fault means a broken writer, not an attacker.
pub(super) fn decode_body(body: &[u8]) -> Result<Vec<(VendingKeyRecord, VendingKey)>, FormatFault> {
    let mut r = Reader(body);
    let count = u32::from_be_bytes(r.take().map_err(|_| FormatFault::Body)?);
    let mut out = Vec::new();
    for _ in 0..count {
        let len = u16::from_be_bytes(r.take().map_err(|_| FormatFault::Body)?);
        let doc = r.slice(usize::from(len)).ok_or(FormatFault::Body)?;
        let doc: RecordDoc = serde_json::from_slice(doc).map_err(|_| FormatFault::Body)?;
        let record = VendingKeyRecord::try_from(&doc).map_err(|_| FormatFault::Body)?;
        let [key_len] = r.take().map_err(|_| FormatFault::Body)?;
        let key_bytes = r.slice(usize::from(key_len)).ok_or(FormatFault::Body)?;
        let key =
            VendingKey::try_from_slice(record.dkga, key_bytes).map_err(|_| FormatFault::Body)?;
        out.push((record, key));
    }
    if !r.0.is_empty() {
        return Err(FormatFault::Body);
    }
    Ok(out)
}

/// A cursor over bytes: short input is an error value, never a panic.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn slice(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, tail) = self.0.split_at_checked(n)?;
        self.0 = tail;
        Some(head)
    }

    fn take<const N: usize>(&mut self) -> Result<[u8; N], FormatFault> {
        let head = self.slice(N).ok_or(FormatFault::Truncated { len: 0 })?;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }
}
