//! The meter-side decoder: keypad digits in, the standard's result out (SPEC-codec §6).
//!
//! Fixed memory, no allocation: the TID memory's storage is the const generic `N`. The decode
//! order is the brief's (decision 12): format → class 3 (`function`) → decrypt → CRC →
//! undefined subclass (`function`) → field domains of key change sections (`range`) → `ddtk`
//! → KEN (`key_expired`) → TID memory (`used`/`old`) → field ranges (`range`) → apply
//! (`overflow`). Key change sections skip the KEN and TID checks.
//!
//! The firmware owns persistence: [`Meter::write_record`] gives a versioned, CRC-protected
//! byte record to store after every accepted entry, and [`Meter::read_record`] refuses a
//! corrupt one.

mod key_change;
mod record;
mod result;
mod tid_memory;

pub use record::{RecordError, record_len};
pub use result::{Accepted, MeterEvent, Register, Rejection};
pub use tid_memory::{TidMemory, TidVerdict};

use key_change::{CompleteSet, PendingSet, Step, step};

use crate::amount::TransferAmount;
use crate::cipher::AnyCipher;
use crate::codec::open;
use crate::digits::TokenDigits;
use crate::error::CodecError;
use crate::ident::{
    BaseDate, EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyType, SupplyGroupCode,
    TariffIndex,
};
use crate::key::DecoderKey;
use crate::tid::Tid;
use crate::token::{
    CreditTransfer, CurrencyTransfer, Management, ManagementFunction, TariffRate, Token,
    WaterMeterFactor,
};

/// Default TID memory size (see [`TidMemory`] for the reasoning).
pub const DEFAULT_TID_CAPACITY: usize = 50;

/// How a meter is set up at manufacture (or commissioning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeterConfig {
    /// Encryption algorithm.
    pub ea: EncryptionAlgorithm,
    /// Current decoder key.
    pub key: DecoderKey,
    /// Its key type.
    pub kt: KeyType,
    /// Its key revision number.
    pub krn: KeyRevision,
    /// Its tariff index.
    pub ti: TariffIndex,
    /// Its key expiry number.
    pub ken: KeyExpiryNumber,
    /// Base date of its TIDs.
    pub base_date: BaseDate,
    /// Supply group code, if known (3- and 4-token key change sets update it).
    pub sgc: Option<SupplyGroupCode>,
    /// TID memory size in use, 1..=N.
    pub tid_capacity: usize,
    /// Accept class 1 subclasses 2–15 and class 2 subclass 10 and hand them to the firmware
    /// (their meaning is not public); when false they answer `function` (brief decision 12
    /// leaves this to the firmware).
    pub accept_extensions: bool,
}

/// Settings a management token may have set; `None` until one arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    /// Maximum power limit (watts, via [`TransferAmount::units`]).
    pub max_power: Option<TransferAmount>,
    /// Maximum phase power unbalance limit (watts).
    pub phase_unbalance: Option<TransferAmount>,
    /// Tariff rate field.
    pub tariff_rate: Option<TariffRate>,
    /// Water meter factor field.
    pub water_meter_factor: Option<WaterMeterFactor>,
}

/// A prepaid meter's token decoder and the state it owns.
#[derive(Clone)]
pub struct Meter<const N: usize = DEFAULT_TID_CAPACITY> {
    key: DecoderKey,
    cipher: AnyCipher,
    ea: EncryptionAlgorithm,
    kt: KeyType,
    krn: KeyRevision,
    ti: TariffIndex,
    ken: KeyExpiryNumber,
    base_date: BaseDate,
    sgc: Option<SupplyGroupCode>,
    accept_extensions: bool,
    tids: TidMemory<N>,
    registers: [u32; 8],
    limits: Limits,
    tamper: bool,
    thresholds: [u32; 8],
    low_warned: [bool; 8],
    pending: Option<PendingSet>,
}

impl<const N: usize> core::fmt::Debug for Meter<N> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Meter")
            .field("ea", &self.ea)
            .field("kt", &self.kt)
            .field("krn", &self.krn)
            .field("ti", &self.ti)
            .field("ken", &self.ken)
            .field("base_date", &self.base_date)
            .field("registers", &self.registers)
            .field("tids", &self.tids.len())
            .finish_non_exhaustive()
    }
}

impl<const N: usize> Meter<N> {
    /// A meter with empty registers and TID memory; fails if the key does not fit the
    /// algorithm, the algorithm is not compiled in, or the capacity is not 1..=N.
    pub fn new(config: MeterConfig) -> Result<Self, CodecError> {
        let cipher = AnyCipher::new(config.ea, &config.key)?;
        let tids = TidMemory::with_capacity(config.tid_capacity).ok_or(CodecError::OutOfRange {
            field: crate::error::Field::Tid,
            value: u64::try_from(config.tid_capacity).unwrap_or(u64::MAX),
        })?;
        Ok(Self {
            key: config.key,
            cipher,
            ea: config.ea,
            kt: config.kt,
            krn: config.krn,
            ti: config.ti,
            ken: config.ken,
            base_date: config.base_date,
            sgc: config.sgc,
            accept_extensions: config.accept_extensions,
            tids,
            registers: [0; 8],
            limits: Limits::default(),
            tamper: false,
            thresholds: [0; 8],
            low_warned: [false; 8],
            pending: None,
        })
    }

    /// Handles one keypad entry. Any entry other than the next section of an unfinished key
    /// change set discards that set, whatever the entry's own result (brief decision 14).
    pub fn enter(&mut self, input: &str) -> Result<Accepted, Rejection> {
        let pending = self.pending.take();
        let digits = TokenDigits::parse(input).map_err(|_| Rejection::Format)?;
        let result = self.process(&digits, pending);
        match result {
            Ok(Accepted::Credit { token, balance }) => {
                self.rearm(Register::Units(token.utility), balance)
            }
            Ok(Accepted::Currency { token, balance }) => {
                self.rearm(Register::Currency(token.utility), balance)
            }
            _ => {}
        }
        result
    }

    fn process(
        &mut self,
        digits: &TokenDigits,
        pending: Option<PendingSet>,
    ) -> Result<Accepted, Rejection> {
        let (class, block) = open(digits, &self.cipher).map_err(reject)?;
        let token = Token::from_block(class, block, self.ea.key_width()).map_err(reject)?;
        match token {
            Token::InitiateMeterTest(t) => Ok(Accepted::MeterTest(t)),
            Token::Engineering(t) if self.accept_extensions => Ok(Accepted::Engineering(t)),
            Token::Engineering(_) => Err(Rejection::Function),
            Token::TransferCredit(t) => {
                self.admit_credit(t.tid)?;
                self.apply_credit(t)
            }
            Token::TransferCurrency(t) => {
                self.admit_credit(t.tid)?;
                self.apply_currency(t)
            }
            Token::Management(m) => self.management(m),
            section => self.key_change_section(section, pending),
        }
    }

    /// The `ddtk`, KEN and TID checks of a class 0 token.
    fn admit_credit(&self, tid: Tid) -> Result<(), Rejection> {
        if self.kt == KeyType::Ddtk {
            return Err(Rejection::Ddtk);
        }
        self.admit_tid(tid)
    }

    /// The KEN and TID memory checks (brief decisions 9, 11).
    fn admit_tid(&self, tid: Tid) -> Result<(), Rejection> {
        tid.check_expiry(self.ken)
            .map_err(|_| Rejection::KeyExpired)?;
        self.tids.check(tid).map_err(|v| match v {
            TidVerdict::Used => Rejection::Used,
            TidVerdict::Old => Rejection::Old,
        })
    }

    fn apply_credit(&mut self, t: CreditTransfer) -> Result<Accepted, Rejection> {
        let index = Register::Units(t.utility).index();
        let balance = self
            .register_at(index)
            .checked_add(t.amount.units())
            .ok_or(Rejection::Overflow)?;
        self.set_register_at(index, balance);
        self.tids.insert(t.tid);
        Ok(Accepted::Credit { token: t, balance })
    }

    /// A currency credit adds, a debit subtracts; either leaving 0..=u32::MAX is `overflow`
    /// (brief decision 13).
    fn apply_currency(&mut self, t: CurrencyTransfer) -> Result<Accepted, Rejection> {
        let index = Register::Currency(t.utility).index();
        let current = i128::from(self.register_at(index));
        let balance = u32::try_from(current.saturating_add(t.amount.units()))
            .map_err(|_| Rejection::Overflow)?;
        self.set_register_at(index, balance);
        self.tids.insert(t.tid);
        Ok(Accepted::Currency { token: t, balance })
    }

    fn management(&mut self, m: Management) -> Result<Accepted, Rejection> {
        if matches!(m.function, ManagementFunction::ExtendedTokenSet(_)) && !self.accept_extensions
        {
            return Err(Rejection::Function);
        }
        self.admit_tid(m.stamp.tid)?;
        match m.function {
            ManagementFunction::SetMaximumPowerLimit(a) => self.limits.max_power = Some(a),
            ManagementFunction::ClearCredit(selector) => {
                if !selector.is_defined() {
                    return Err(Rejection::Range);
                }
                match selector.register() {
                    Some(r) => self.set_register_at(usize::from(r), 0),
                    None => self.registers = [0; 8],
                }
            }
            ManagementFunction::SetTariffRate(rate) => self.limits.tariff_rate = Some(rate),
            ManagementFunction::ClearTamperCondition(_) => self.tamper = false,
            ManagementFunction::SetMaximumPhasePowerUnbalanceLimit(a) => {
                self.limits.phase_unbalance = Some(a)
            }
            ManagementFunction::SetWaterMeterFactor(f) => self.limits.water_meter_factor = Some(f),
            ManagementFunction::ExtendedTokenSet(_) => {}
        }
        self.tids.insert(m.stamp.tid);
        Ok(Accepted::Management(m.function))
    }

    fn key_change_section(
        &mut self,
        section: Token,
        pending: Option<PendingSet>,
    ) -> Result<Accepted, Rejection> {
        match step(pending, section, self.ea.key_width()) {
            Step::Continue(next) => {
                self.pending = Some(next);
                Ok(Accepted::KeyChangeSection)
            }
            Step::Ignored => Ok(Accepted::Ignored),
            Step::Complete(set) => self.install(set),
        }
    }

    /// Installs a complete set, or nothing.
    ///
    /// Refused (nothing installed): a new key type of DITK (`key_type`, decision 14); an SGC
    /// that does not fit six digits (`range`); a rollover on a meter already at the last base
    /// date, 2035 (`range`: no later base date exists; our choice, the brief is silent).
    fn install(&mut self, set: CompleteSet) -> Result<Accepted, Rejection> {
        if set.attrs.kt == KeyType::Ditk {
            return Err(Rejection::KeyType);
        }
        let sgc = match set.sgc {
            Some(Ok(sgc)) => Some(sgc),
            Some(Err(())) => return Err(Rejection::Range),
            None => self.sgc,
        };
        let base_date = if set.attrs.rollover {
            self.base_date.next().ok_or(Rejection::Range)?
        } else {
            self.base_date
        };
        let cipher = AnyCipher::new(self.ea, &set.key).map_err(|_| Rejection::Range)?;
        self.cipher = cipher;
        self.key = set.key;
        self.kt = set.attrs.kt;
        self.krn = set.attrs.krn;
        self.ti = set.attrs.ti;
        self.ken = set.attrs.ken;
        self.sgc = sgc;
        if set.attrs.rollover {
            self.base_date = base_date;
            self.tids.clear();
        }
        Ok(Accepted::KeyChanged {
            rollover: set.attrs.rollover,
        })
    }

    fn register_at(&self, index: usize) -> u32 {
        self.registers.get(index).copied().unwrap_or(0)
    }

    fn set_register_at(&mut self, index: usize, value: u32) {
        if let Some(r) = self.registers.get_mut(index) {
            *r = value;
        }
    }

    /// A credit token raised the register: re-arm its low-credit warning once above the
    /// threshold again.
    fn rearm(&mut self, register: Register, balance: u32) {
        let i = register.index();
        if balance > self.thresholds.get(i).copied().unwrap_or(0) {
            if let Some(w) = self.low_warned.get_mut(i) {
                *w = false;
            }
        }
    }

    /// Takes consumed units off a register (the metering side calls this). Returns the event
    /// the firmware should show: exhausted at zero, or a low-credit warning once per crossing
    /// of the register's threshold.
    pub fn consume(&mut self, register: Register, units: u32) -> Option<MeterEvent> {
        let i = register.index();
        let remaining = self.register_at(i).saturating_sub(units);
        self.set_register_at(i, remaining);
        if remaining == 0 {
            return Some(MeterEvent::CreditExhausted { register });
        }
        let threshold = self.thresholds.get(i).copied().unwrap_or(0);
        let warned = self.low_warned.get_mut(i)?;
        if remaining <= threshold && !*warned {
            *warned = true;
            return Some(MeterEvent::LowCredit {
                register,
                remaining,
            });
        }
        None
    }

    /// Sets the level at or below which [`Meter::consume`] raises a low-credit warning
    /// (0 turns it off).
    pub fn set_low_credit_threshold(&mut self, register: Register, units: u32) {
        if let Some(t) = self.thresholds.get_mut(register.index()) {
            *t = units;
        }
    }

    /// Credit left in a register (base units: 0.1 kWh, 0.1 m³, …; currency 0.00001).
    pub fn remaining(&self, register: Register) -> u32 {
        self.register_at(register.index())
    }

    /// Sets a register at commissioning (e.g. a starting balance).
    pub fn set_remaining(&mut self, register: Register, units: u32) {
        self.set_register_at(register.index(), units);
    }

    /// Records a TID as already seen (commissioning: the manufacture or last key change
    /// time, brief decision 11).
    pub fn remember_tid(&mut self, tid: Tid) {
        self.tids.insert(tid);
    }

    /// Marks a tamper condition (the firmware's sensors); a clear-tamper token clears it.
    pub fn set_tamper(&mut self) {
        self.tamper = true;
    }

    /// True while a tamper condition stands.
    pub const fn tamper(&self) -> bool {
        self.tamper
    }

    /// Limits and settings received by management tokens.
    pub const fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The TID memory.
    pub const fn tid_memory(&self) -> &TidMemory<N> {
        &self.tids
    }

    /// True while a key change set is partly entered.
    pub const fn key_change_pending(&self) -> bool {
        self.pending.is_some()
    }

    /// Encryption algorithm.
    pub const fn ea(&self) -> EncryptionAlgorithm {
        self.ea
    }

    /// Current key type.
    pub const fn kt(&self) -> KeyType {
        self.kt
    }

    /// Current key revision number.
    pub const fn krn(&self) -> KeyRevision {
        self.krn
    }

    /// Current tariff index.
    pub const fn ti(&self) -> TariffIndex {
        self.ti
    }

    /// Current key expiry number.
    pub const fn ken(&self) -> KeyExpiryNumber {
        self.ken
    }

    /// Current base date.
    pub const fn base_date(&self) -> BaseDate {
        self.base_date
    }

    /// Supply group code, if known.
    pub const fn sgc(&self) -> Option<SupplyGroupCode> {
        self.sgc
    }

    /// True if the meter's current decoder key is `key` (constant-time comparison).
    pub fn has_key(&self, key: &DecoderKey) -> bool {
        self.key == *key
    }
}

/// The rejection category of a codec error during decoding.
const fn reject(e: CodecError) -> Rejection {
    match e {
        CodecError::CrcMismatch { .. } => Rejection::Crc,
        CodecError::ReservedClass | CodecError::UnknownSubclass { .. } => Rejection::Function,
        CodecError::OutOfRange { .. } => Rejection::Range,
        _ => Rejection::Format,
    }
}
