//! The meter's persistent record: fixed size, versioned, CRC-protected.
//!
//! Firmware stores the record after every accepted entry (and after a key change section, so
//! a power cut between the tokens of a set loses nothing). A record that fails any check is
//! refused, never half-trusted. The record holds the decoder key: firmware keeps it in
//! protected storage and wipes RAM copies.
//!
//! Layout, version 1 (integers big-endian):
//! `"STSM"` · version 1 · N (u16) · TID capacity (u16) · EA · key length · key (16, zero
//! padded) · KT · KRN · TI · KEN · base year (u16) · SGC (u32, `u32::MAX` = none) · flags ·
//! 8 registers (u32) · 8 thresholds (u32) · warned bitmask · limits presence bitmask ·
//! 4 limit fields (u16) · pending set (21) · TID count (u16) · N TIDs (u32) · CRC-32 (u32).

use core::fmt;

use super::Meter;
use super::key_change::PendingSet;
use super::tid_memory::TidMemory;
use crate::amount::TransferAmount;
use crate::cipher::AnyCipher;
use crate::ident::{
    BaseDate, EncryptionAlgorithm, KenNibble, KeyExpiryNumber, KeyRevision, KeyType,
    SupplyGroupCode, TariffIndex,
};
use crate::key::{DecoderKey, DecoderKey64, DecoderKey128, KeyPart};
use crate::tid::Tid;
use crate::token::{KeyChange1, KeyChange2, KeyChange3, SgcHalf, TariffRate, WaterMeterFactor};

const MAGIC: [u8; 4] = *b"STSM";
const VERSION: u8 = 1;
const FIXED_LEN: usize = 139;

/// Record length for a meter with TID storage `n`.
pub const fn record_len(n: usize) -> usize {
    FIXED_LEN + 4 * n
}

/// Why a record was refused.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// The buffer is not exactly one record long.
    Length {
        /// Bytes a record of this meter type has.
        expected: usize,
        /// Bytes given.
        got: usize,
    },
    /// Not a meter record.
    Magic,
    /// A record version this firmware does not read.
    Version {
        /// Version found.
        found: u8,
    },
    /// The stored CRC-32 does not match the contents: corrupt.
    Crc {
        /// CRC stored.
        stored: u32,
        /// CRC computed.
        computed: u32,
    },
    /// Written by a build with different TID storage.
    Storage {
        /// N in the record.
        found: u16,
    },
    /// A field holds a value no meter state has (named).
    Field {
        /// Which field.
        name: &'static str,
    },
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RecordError::Length { expected, got } => {
                write!(f, "record must be {expected} bytes, got {got}")
            }
            RecordError::Magic => f.write_str("not a meter record"),
            RecordError::Version { found } => write!(f, "unsupported record version {found}"),
            RecordError::Crc { stored, computed } => {
                write!(
                    f,
                    "record corrupt: crc stored 0x{stored:08X}, computed 0x{computed:08X}"
                )
            }
            RecordError::Storage { found } => write!(f, "record written for tid storage {found}"),
            RecordError::Field { name } => write!(f, "record field {name} holds an invalid value"),
        }
    }
}

impl core::error::Error for RecordError {}

/// CRC-32/ISO-HDLC, bitwise: small code, and records are written rarely.
fn crc32(data: &[u8]) -> u32 {
    !data.iter().fold(u32::MAX, |mut crc, &b| {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
        crc
    })
}

/// Writes big-endian fields into a buffer already checked to be exactly one record long.
struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    // Element-wise copies here and below: no slice length check that could panic (and pull
    // panic formatting into meter firmware).
    fn bytes(&mut self, b: &[u8]) {
        let end = self.at.saturating_add(b.len());
        if let Some(dst) = self.buf.get_mut(self.at..end) {
            dst.iter_mut().zip(b).for_each(|(d, s)| *d = *s);
        }
        self.at = end;
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
}

/// Reads big-endian fields; reading past the end yields zeros (the length is checked first).
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn array<const K: usize>(&mut self) -> [u8; K] {
        let mut out = [0u8; K];
        let end = self.at.saturating_add(K);
        if let Some(src) = self.buf.get(self.at..end) {
            out.iter_mut().zip(src).for_each(|(d, s)| *d = *s);
        }
        self.at = end;
        out
    }
    fn u8(&mut self) -> u8 {
        u8::from_be_bytes(self.array())
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes(self.array())
    }
    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.array())
    }
}

fn bad(name: &'static str) -> RecordError {
    RecordError::Field { name }
}

impl<const N: usize> Meter<N> {
    /// Record length of this meter type.
    pub const RECORD_LEN: usize = record_len(N);

    /// Writes the meter's state into `out`, which must be exactly [`Self::RECORD_LEN`] bytes.
    pub fn write_record(&self, out: &mut [u8]) -> Result<(), RecordError> {
        if out.len() != Self::RECORD_LEN {
            return Err(RecordError::Length {
                expected: Self::RECORD_LEN,
                got: out.len(),
            });
        }
        let storage = u16::try_from(N).map_err(|_| RecordError::Storage { found: u16::MAX })?;
        let mut w = Writer { buf: out, at: 0 };
        w.bytes(&MAGIC);
        w.u8(VERSION);
        w.u16(storage);
        w.u16(u16::try_from(self.tids.capacity()).unwrap_or(storage));
        w.u8(self.ea.code());
        let key = self.key.expose_bytes();
        let mut padded = [0u8; 16];
        padded.iter_mut().zip(key).for_each(|(d, s)| *d = *s);
        w.u8(u8::try_from(key.len()).unwrap_or(0));
        w.bytes(&padded);
        zeroize::Zeroize::zeroize(&mut padded);
        w.u8(self.kt.bits());
        w.u8(self.krn.get());
        w.u8(self.ti.get());
        w.u8(self.ken.get());
        w.u16(self.base_date.year());
        w.u32(self.sgc.map_or(u32::MAX, SupplyGroupCode::get));
        w.u8(u8::from(self.accept_extensions) | (u8::from(self.tamper) << 1));
        self.registers.iter().for_each(|&r| w.u32(r));
        self.thresholds.iter().for_each(|&t| w.u32(t));
        w.u8(self
            .low_warned
            .iter()
            .enumerate()
            .fold(0, |m, (i, &b)| m | (u8::from(b) << i)));
        let l = &self.limits;
        w.u8(u8::from(l.max_power.is_some())
            | u8::from(l.phase_unbalance.is_some()) << 1
            | u8::from(l.tariff_rate.is_some()) << 2
            | u8::from(l.water_meter_factor.is_some()) << 3);
        w.u16(l.max_power.map_or(0, TransferAmount::field));
        w.u16(l.phase_unbalance.map_or(0, TransferAmount::field));
        w.u16(l.tariff_rate.map_or(0, TariffRate::get));
        w.u16(l.water_meter_factor.map_or(0, WaterMeterFactor::get));
        write_pending(&mut w, self.pending.as_ref());
        w.u16(u16::try_from(self.tids.len()).unwrap_or(0));
        let mut written = 0;
        for tid in self.tids.iter() {
            w.u32(tid.get());
            written += 1;
        }
        for _ in written..N {
            w.u32(0);
        }
        let crc = crc32(w.buf.get(..w.at).unwrap_or(&[]));
        w.u32(crc);
        Ok(())
    }

    /// Rebuilds a meter from a record, refusing anything corrupt or inconsistent.
    pub fn read_record(record: &[u8]) -> Result<Self, RecordError> {
        if record.len() != Self::RECORD_LEN {
            return Err(RecordError::Length {
                expected: Self::RECORD_LEN,
                got: record.len(),
            });
        }
        let (body, crc) = record.split_last_chunk::<4>().ok_or(bad("crc"))?;
        let stored = u32::from_be_bytes(*crc);
        let computed = crc32(body);
        if stored != computed {
            return Err(RecordError::Crc { stored, computed });
        }
        let mut r = Reader { buf: body, at: 0 };
        if r.array::<4>() != MAGIC {
            return Err(RecordError::Magic);
        }
        let version = r.u8();
        if version != VERSION {
            return Err(RecordError::Version { found: version });
        }
        let storage = r.u16();
        if usize::from(storage) != N {
            return Err(RecordError::Storage { found: storage });
        }
        let capacity = usize::from(r.u16());
        let ea = EncryptionAlgorithm::from_code(r.u8()).map_err(|_| bad("ea"))?;
        let key_len = r.u8();
        let mut key_bytes = r.array::<16>();
        let key = match key_len {
            8 => DecoderKey::Bits64(
                DecoderKey64::try_from_slice(key_bytes.get(..8).unwrap_or(&[]), ea)
                    .map_err(|_| bad("key"))?,
            ),
            16 => DecoderKey::Bits128(DecoderKey128::from_bytes(key_bytes)),
            _ => return Err(bad("key length")),
        };
        zeroize::Zeroize::zeroize(&mut key_bytes);
        let kt = KeyType::try_from(r.u8()).map_err(|_| bad("kt"))?;
        let krn = KeyRevision::new(r.u8()).map_err(|_| bad("krn"))?;
        let ti = TariffIndex::new(r.u8()).map_err(|_| bad("ti"))?;
        let ken = KeyExpiryNumber::new(r.u8());
        let base_date = BaseDate::from_year(r.u16()).map_err(|_| bad("base date"))?;
        let sgc = match r.u32() {
            u32::MAX => None,
            v => Some(SupplyGroupCode::new(v).map_err(|_| bad("sgc"))?),
        };
        let flags = r.u8();
        let cipher = AnyCipher::new(ea, &key).map_err(|_| bad("key"))?;
        let tids = TidMemory::with_capacity(capacity).ok_or(bad("tid capacity"))?;
        let mut meter = Self {
            key,
            cipher,
            ea,
            kt,
            krn,
            ti,
            ken,
            base_date,
            sgc,
            accept_extensions: flags & 1 != 0,
            tids,
            registers: [0; 8],
            limits: super::Limits::default(),
            tamper: flags & 2 != 0,
            thresholds: [0; 8],
            low_warned: [false; 8],
            pending: None,
        };
        meter.registers.iter_mut().for_each(|v| *v = r.u32());
        meter.thresholds.iter_mut().for_each(|v| *v = r.u32());
        let warned = r.u8();
        meter
            .low_warned
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = warned >> i & 1 != 0);
        let present = r.u8();
        let fields = [r.u16(), r.u16(), r.u16(), r.u16()];
        let [mpl, mppul, rate, factor] = fields;
        meter.limits = super::Limits {
            max_power: (present & 1 != 0).then_some(TransferAmount::from_field(mpl)),
            phase_unbalance: (present & 2 != 0).then_some(TransferAmount::from_field(mppul)),
            tariff_rate: (present & 4 != 0).then_some(TariffRate::new(rate)),
            water_meter_factor: (present & 8 != 0).then_some(WaterMeterFactor::new(factor)),
        };
        meter.pending = read_pending(&mut r)?;
        let count = usize::from(r.u16());
        if count > capacity {
            return Err(bad("tid count"));
        }
        for i in 0..N {
            let v = r.u32();
            if i < count {
                meter.tids.insert(Tid::new(v).map_err(|_| bad("tid"))?);
            }
        }
        if meter.tids.len() != count {
            return Err(bad("tid memory"));
        }
        Ok(meter)
    }
}

fn write_pending(w: &mut Writer<'_>, pending: Option<&PendingSet>) {
    let (kind, first, second, third) = match pending {
        None => (0, None, None, None),
        Some(PendingSet::First(a)) => (1, Some(a), None, None),
        Some(PendingSet::Second(a, b)) => (2, Some(a), Some(b), None),
        Some(PendingSet::Third(a, b, c)) => (3, Some(a), Some(b), Some(c)),
    };
    w.u8(kind);
    match first {
        Some(a) => {
            w.u8(a.ken_high.get());
            w.u8(a.krn.get());
            w.u8(u8::from(a.rollover) | u8::from(a.sgc_follows) << 1);
            w.u8(a.kt.bits());
            w.u32(a.key_high.expose());
        }
        None => w.bytes(&[0; 8]),
    }
    match second {
        Some(b) => {
            w.u8(b.ken_low.get());
            w.u8(b.ti.get());
            w.u32(b.key_low.expose());
        }
        None => w.bytes(&[0; 6]),
    }
    match third {
        Some(c) => {
            w.u16(c.sgc_low.get());
            w.u32(c.key_mid2.expose());
        }
        None => w.bytes(&[0; 6]),
    }
}

fn read_pending(r: &mut Reader<'_>) -> Result<Option<PendingSet>, RecordError> {
    // Read every byte of the fixed-size area first; validate only what the kind says is there.
    let kind = r.u8();
    let (ken_high, krn, flags, kt, key_high) = (r.u8(), r.u8(), r.u8(), r.u8(), r.u32());
    let (ken_low, ti, key_low) = (r.u8(), r.u8(), r.u32());
    let (sgc_low, key_mid2) = (r.u16(), r.u32());
    if kind == 0 {
        return Ok(None);
    }
    let first = KeyChange1 {
        ken_high: KenNibble::new(ken_high).map_err(|_| bad("pending kenho"))?,
        krn: KeyRevision::new(krn).map_err(|_| bad("pending krn"))?,
        rollover: flags & 1 != 0,
        sgc_follows: flags & 2 != 0,
        kt: KeyType::try_from(kt).map_err(|_| bad("pending kt"))?,
        key_high: KeyPart::new(key_high),
    };
    if kind == 1 {
        return Ok(Some(PendingSet::First(first)));
    }
    let second = KeyChange2 {
        ken_low: KenNibble::new(ken_low).map_err(|_| bad("pending kenlo"))?,
        ti: TariffIndex::new(ti).map_err(|_| bad("pending ti"))?,
        key_low: KeyPart::new(key_low),
    };
    match kind {
        2 => Ok(Some(PendingSet::Second(first, second))),
        3 => {
            let third = KeyChange3 {
                sgc_low: SgcHalf::new(sgc_low).map_err(|_| bad("pending sgc"))?,
                key_mid2: KeyPart::new(key_mid2),
            };
            Ok(Some(PendingSet::Third(first, second, third)))
        }
        _ => Err(bad("pending kind")),
    }
}
