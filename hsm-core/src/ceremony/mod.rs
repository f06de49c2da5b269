//! Key ceremonies under dual control: a vending key enters a store only as components held by
//! different custodians, each checked by its key check value (KCV) before they are combined,
//! and every ceremony leaves a line in an audit log.
//!
//! - [`import`]: custodians bring components of an existing key (from the KMC); N-of-N XOR or
//!   M-of-N Shamir over GF(2^8) (`xor.rs`, `shamir.rs`).
//! - [`generate`]: a new key from the OS random generator, split into components for the
//!   custodians, then stored.
//! - [`remove`]: an audited removal.
//!
//! A DES KCV cannot see parity bits, yet DKGA02's final XOR uses them, so a combined DKGA02
//! key must also have odd parity in every byte (as KMC-issued and generated keys do).
//!
//! The combined key exists only in zeroizing buffers, and only until the store has it (a
//! PKCS#11 store keeps it as a non-extractable token object). KCVs: see [`Kcv`].

mod audit;
mod component;
mod kcv;
mod shamir;
mod xor;

use std::collections::BTreeSet;

pub use audit::AuditLog;
pub use component::{Component, CustodianName, SchemeKind};
pub use kcv::{Kcv, KcvFormatError};

use self::audit::AuditEvent;
use crate::derive::Dkga;
use crate::error::{CeremonyError, ComponentField, HsmError};
use crate::store::{KeyStore, VendingKeyId, VendingKeyRecord};
use crate::vending_key::VendingKey;

/// How a generated key is split among N custodians.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// All N components are needed; any N−1 say nothing about the key.
    Xor,
    /// Any `threshold` (M) of the N components rebuild the key; fewer say nothing.
    Shamir {
        /// M, 2..=N.
        threshold: u8,
    },
}

/// Checks the shape of a split: 2 <= M <= N <= 255, and M = N for XOR.
fn check_shape(scheme: SchemeKind, threshold: usize, custodians: usize) -> Result<(), HsmError> {
    let ok = match scheme {
        SchemeKind::Xor => threshold == custodians,
        SchemeKind::Shamir => threshold <= custodians,
    } && threshold >= 2
        && custodians <= 255;
    if ok {
        Ok(())
    } else {
        Err(CeremonyError::Shape {
            custodians,
            threshold,
        }
        .into())
    }
}

/// Checks every component against the record and the first component, then combines them
/// and checks the key's KCV. Errors name the component by index and custodian.
fn combine(
    record: &VendingKeyRecord,
    components: &[Component],
) -> Result<(VendingKey, Kcv), HsmError> {
    record.check()?;
    let first = components
        .first()
        .ok_or(CeremonyError::Count { got: 0, need: 2 })?;
    let mut indexes = BTreeSet::new();
    let mut names = BTreeSet::new();
    for c in components {
        let mismatch = |field| CeremonyError::Mismatch {
            index: c.index,
            custodian: c.custodian.clone(),
            field,
        };
        let checks = [
            (c.key_id == record.id, ComponentField::KeyId),
            (c.dkga == record.dkga, ComponentField::Dkga),
            (c.scheme == first.scheme, ComponentField::Scheme),
            (c.threshold == first.threshold, ComponentField::Threshold),
            (c.custodians == first.custodians, ComponentField::Custodians),
            (c.key_kcv == first.key_kcv, ComponentField::KeyKcv),
        ];
        if let Some((_, field)) = checks.iter().find(|(ok, _)| !ok) {
            return Err(mismatch(*field).into());
        }
        if c.index == 0 || c.index > c.custodians {
            return Err(CeremonyError::IndexRange {
                index: c.index,
                custodians: c.custodians,
            }
            .into());
        }
        if !indexes.insert(c.index) {
            return Err(CeremonyError::DuplicateIndex { index: c.index }.into());
        }
        if !names.insert(&c.custodian) {
            return Err(CeremonyError::DuplicateCustodian {
                custodian: c.custodian.clone(),
            }
            .into());
        }
        c.verify_kcv()?;
    }
    let (threshold, custodians) = (usize::from(first.threshold), usize::from(first.custodians));
    check_shape(first.scheme, threshold, custodians)?;
    if components.len() < threshold {
        return Err(CeremonyError::Count {
            got: components.len(),
            need: threshold,
        }
        .into());
    }
    let len = first.bytes.len();
    let key_bytes = match first.scheme {
        SchemeKind::Xor => xor::combine(len, components.iter().map(|c| c.bytes.as_slice())),
        SchemeKind::Shamir => {
            let shares: Vec<(u8, &[u8])> = components
                .iter()
                .map(|c| (c.index, c.bytes.as_slice()))
                .collect();
            shamir::combine(len, &shares)
        }
    };
    let computed = Kcv::of_key_bytes(record.dkga, &key_bytes)?;
    if record.dkga == Dkga::Dkga02 && key_bytes.iter().any(|b| b.count_ones() % 2 == 0) {
        return Err(CeremonyError::KeyParity.into());
    }
    if computed != first.key_kcv {
        return Err(CeremonyError::KeyKcv {
            expected: first.key_kcv,
            computed,
        }
        .into());
    }
    Ok((
        VendingKey::try_from_slice(record.dkga, &key_bytes)?,
        computed,
    ))
}

/// Writes the audit line for `result`. A successful ceremony whose line cannot be written is
/// undone (`rollback`) and fails with the log's error: no key enters a store unaudited. A
/// refused ceremony reports its refusal even if its line cannot be written.
fn audited<T>(
    audit: &AuditLog,
    mut event: AuditEvent<'_>,
    result: Result<(T, Option<Kcv>), HsmError>,
    rollback: impl FnOnce(),
) -> Result<T, HsmError> {
    match result {
        Ok((value, kcv)) => {
            if kcv.is_some() {
                event.key_kcv = kcv;
            }
            if let Err(e) = audit.append(&event, Ok(())) {
                rollback();
                return Err(e);
            }
            Ok(value)
        }
        Err(e) => {
            let _ = audit.append(&event, Err(&e));
            Err(e)
        }
    }
}

/// Imports a vending key from custodians' components: every component must belong to
/// `record`, agree with the others and pass its KCV; enough of them must be given; the
/// combined key must pass the key KCV they all carry. Returns the key's KCV.
pub fn import<S: KeyStore + ?Sized>(
    store: &S,
    record: &VendingKeyRecord,
    components: &[Component],
    audit: &AuditLog,
) -> Result<Kcv, HsmError> {
    let event = AuditEvent {
        event: "ceremony-import",
        key_id: record.id,
        record: Some(record),
        split: components
            .first()
            .map(|c| (c.scheme, c.threshold, c.custodians)),
        components: components
            .iter()
            .map(|c| (c.index, &c.custodian, c.kcv))
            .collect(),
        key_kcv: components.first().map(|c| c.key_kcv),
    };
    let result = combine(record, components)
        .and_then(|(key, kcv)| store.import(record, key).map(|()| (kcv, Some(kcv))));
    audited(audit, event, result, || {
        let _ = store.remove(&record.id);
    })
}

/// A fresh vending key for `dkga` from the OS generator. DES keys get odd parity, as
/// KMC-issued keys have (DES ignores parity bits; DKGA02's final XOR uses the key as stored).
fn fresh_key(dkga: Dkga) -> Result<VendingKey, HsmError> {
    let mut bytes = zeroize::Zeroizing::new(vec![
        0u8;
        match dkga {
            Dkga::Dkga02 => 8,
            Dkga::Dkga04 => 20,
        }
    ]);
    xor::random_fill(&mut bytes)?;
    if dkga == Dkga::Dkga02 {
        for b in bytes.iter_mut() {
            *b = (*b & 0xFE) | u8::from((*b >> 1).count_ones() % 2 == 0);
        }
    }
    VendingKey::try_from_slice(dkga, &bytes)
}

/// Generates a vending key for `record`, splits it among `custodians` by `scheme`, hands each
/// component to `deliver` (which writes the custodian's file), and only when every component
/// is delivered stores the key. Returns the key's KCV.
pub fn generate<S: KeyStore + ?Sized>(
    store: &S,
    record: &VendingKeyRecord,
    custodians: &[CustodianName],
    scheme: Scheme,
    audit: &AuditLog,
    deliver: &mut dyn FnMut(&Component) -> Result<(), HsmError>,
) -> Result<Kcv, HsmError> {
    let (kind, threshold) = match scheme {
        Scheme::Xor => (SchemeKind::Xor, custodians.len()),
        Scheme::Shamir { threshold } => (SchemeKind::Shamir, usize::from(threshold)),
    };
    let mut components: Vec<Component> = Vec::new();
    let result = (|| {
        record.check()?;
        check_shape(kind, threshold, custodians.len())?;
        check_distinct(custodians)?;
        // check_shape bounds the threshold by 255.
        let m = u8::try_from(threshold).unwrap_or(u8::MAX);
        let key = fresh_key(record.dkga)?;
        let key_kcv = Kcv::of(&key);
        components = split_checked(record, &key, custodians, kind, m)?;
        for c in &components {
            deliver(c)?;
        }
        store.import(record, key)?;
        Ok((key_kcv, Some(key_kcv)))
    })();
    let event = AuditEvent {
        event: "ceremony-generate",
        key_id: record.id,
        record: Some(record),
        split: Some((
            kind,
            u8::try_from(threshold).unwrap_or(u8::MAX),
            u8::try_from(custodians.len()).unwrap_or(u8::MAX),
        )),
        components: components
            .iter()
            .map(|c| (c.index, &c.custodian, c.kcv))
            .collect(),
        key_kcv: components.first().map(|c| c.key_kcv),
    };
    audited(audit, event, result, || {
        let _ = store.remove(&record.id);
    })
}

/// Refuses a custodian named twice: dual control needs different people.
fn check_distinct(custodians: &[CustodianName]) -> Result<(), HsmError> {
    let mut seen = BTreeSet::new();
    match custodians.iter().find(|c| !seen.insert(*c)) {
        Some(dup) => Err(CeremonyError::DuplicateCustodian {
            custodian: dup.clone(),
        }
        .into()),
        None => Ok(()),
    }
}

/// Splits a key among custodians, each component carrying its own KCV and the key's.
fn split_checked(
    record: &VendingKeyRecord,
    key: &VendingKey,
    custodians: &[CustodianName],
    kind: SchemeKind,
    threshold: u8,
) -> Result<Vec<Component>, HsmError> {
    let n = u8::try_from(custodians.len()).map_err(|_| CeremonyError::Shape {
        custodians: custodians.len(),
        threshold: usize::from(threshold),
    })?;
    let key_kcv = Kcv::of(key);
    let secret: &[u8] = match key {
        VendingKey::Dkga02(k) => k.expose_bytes(),
        VendingKey::Dkga04(k) => k.expose_bytes(),
    };
    let parts = match kind {
        SchemeKind::Xor => xor::split(secret, custodians.len())?,
        SchemeKind::Shamir => shamir::split(secret, threshold, n)?,
    };
    let mut components = Vec::with_capacity(parts.len());
    for ((custodian, bytes), index) in custodians.iter().zip(parts).zip(1u8..) {
        components.push(Component {
            key_id: record.id,
            dkga: record.dkga,
            custodian: custodian.clone(),
            index,
            scheme: kind,
            threshold,
            custodians: n,
            kcv: Kcv::of_key_bytes(record.dkga, &bytes)?,
            bytes,
            key_kcv,
        });
    }
    Ok(components)
}

/// Splits an existing key (as a key management centre does before handing it over) into
/// components for `custodians`, to be brought to [`import`]. Nothing is stored or audited
/// here: the import ceremony is the audited step.
pub fn split(
    record: &VendingKeyRecord,
    key: &VendingKey,
    custodians: &[CustodianName],
    scheme: Scheme,
) -> Result<Vec<Component>, HsmError> {
    let (kind, threshold) = match scheme {
        Scheme::Xor => (SchemeKind::Xor, custodians.len()),
        Scheme::Shamir { threshold } => (SchemeKind::Shamir, usize::from(threshold)),
    };
    record.check()?;
    check_shape(kind, threshold, custodians.len())?;
    check_distinct(custodians)?;
    if key.dkga() != record.dkga {
        return Err(HsmError::VendingKeyKind {
            id: record.id,
            record: record.dkga,
            key: key.dkga(),
        });
    }
    split_checked(
        record,
        key,
        custodians,
        kind,
        u8::try_from(threshold).unwrap_or(u8::MAX),
    )
}

/// Removes a vending key from a store, with an audit line carrying the removed key's record
/// and KCV.
pub fn remove<S: KeyStore + ?Sized>(
    store: &S,
    id: &VendingKeyId,
    audit: &AuditLog,
) -> Result<(), HsmError> {
    let record = store.record(id);
    let kcv = store.kcv(id).ok();
    let event = AuditEvent {
        event: "remove",
        key_id: *id,
        record: record.as_ref().ok(),
        split: None,
        components: Vec::new(),
        key_kcv: kcv,
    };
    let result = record
        .clone()
        .and_then(|_| store.remove(id))
        .map(|()| ((), None));
    audited(audit, event, result, || {})
}

#[cfg(test)]
mod tests;
