//! The published token sequence, entered in order, each result checked.
//!
//! One line per step: `step 3 crc ok`, or `step 3 FAIL expected crc got used`; then the
//! decoder's memory figures and `summary: 11/11 steps ok` (12 with MISTY1). Every decoder call
//! (`Meter::new`, `enter`, `write_record`, `read_record`) runs inside [`StackPeak::measure`];
//! the DEA known-answer step checks the cipher alone and is not measured.

use token_codec::meter::Register;
use token_codec::token::Utility;
use token_codec::{
    AnyCipher, DecoderKey, DecoderKey64, EncryptionAlgorithm, Rejection, TokenCipher,
};

use crate::published::{
    CTSA01_1, CTSA01_3, CTSA04_1, CTSA05, DEA_KAT, DemoMeter, NINETEEN_DIGITS, OTHER_METER, P1_KEY,
    P1_TI02_KEY, TIDS, p1_config,
};
use crate::report::{DecimalBuf, decimal, line, pieces, usize_decimal};
use crate::stack::{StackPeak, WINDOW};

/// Steps in the sequence for this build.
pub const STEPS: u32 = if cfg!(feature = "all") { 12 } else { 11 };

/// Stack high-water marks of the decoder calls, below their caller (see `stack`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StackUse {
    /// `Meter::new` and `Meter::read_record`: build a meter and key its cipher.
    pub setup: StackPeak,
    /// `Meter::enter`, key change installation included.
    pub enter: StackPeak,
    /// `Meter::write_record`.
    pub write: StackPeak,
}

/// What a run found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Steps run.
    pub steps: u32,
    /// Steps whose result matched.
    pub ok: u32,
    /// Deepest stack the decoder calls used, by kind.
    pub stack: StackUse,
}

impl Tally {
    /// True if every step of the sequence ran and matched.
    pub const fn passed(&self) -> bool {
        self.steps == STEPS && self.ok == STEPS
    }

    fn pass(&mut self, what: &str) {
        self.steps += 1;
        self.ok += 1;
        let mut n = DecimalBuf::default();
        line(&["step ", decimal(self.steps, &mut n), " ", what, " ok"]);
    }

    fn fail(&mut self, expected: &[&str], got: &[&str]) {
        self.steps += 1;
        let mut n = DecimalBuf::default();
        pieces(&["step ", decimal(self.steps, &mut n), " FAIL expected "]);
        pieces(expected);
        pieces(&[" got "]);
        line(got);
    }

    /// Enters `digits`; passes if the result's name is `expect` and `check` then holds.
    fn token(&mut self, meter: &mut DemoMeter, digits: &str, expect: &str, check: Check) {
        let got = self.stack.enter.measure(|| meter.enter(digits));
        let got = match got {
            Ok(_) => "accept",
            Err(e) => e.as_str(),
        };
        if got != expect {
            return self.fail(&[expect], &[got]);
        }
        match check {
            Check::Result => self.pass(expect),
            Check::Units(utility, label, want) => {
                let have = meter.remaining(Register::Units(utility));
                if have == want {
                    return self.pass(expect);
                }
                let (mut w, mut h) = (DecimalBuf::default(), DecimalBuf::default());
                self.fail(
                    &[label, " ", decimal(want, &mut w)],
                    &[label, " ", decimal(have, &mut h)],
                );
            }
            Check::AllCleared => match Register::ALL.iter().find(|&&r| meter.remaining(r) != 0) {
                None => self.pass(expect),
                Some(&r) => {
                    let (mut i, mut h) = (DecimalBuf::default(), DecimalBuf::default());
                    self.fail(
                        &["all registers 0"],
                        &[
                            "register ",
                            usize_decimal(r.index(), &mut i),
                            " at ",
                            decimal(meter.remaining(r), &mut h),
                        ],
                    );
                }
            },
            Check::Pending => {
                if meter.key_change_pending() {
                    self.pass(expect);
                } else {
                    self.fail(&["a pending key change"], &["none"]);
                }
            }
            Check::NewKey(key, ti) => {
                let installed = meter.has_key(&DecoderKey::Bits64(DecoderKey64::from_bytes(key)));
                let pending = meter.key_change_pending();
                if installed && !pending && meter.ti().get() == ti {
                    return self.pass(expect);
                }
                let state = match (pending, installed) {
                    (true, _) => "a set still pending, ti ",
                    (false, true) => "the new key, ti ",
                    (false, false) => "another key, ti ",
                };
                let (mut w, mut h) = (DecimalBuf::default(), DecimalBuf::default());
                self.fail(
                    &["the new key, ti ", decimal(ti.into(), &mut w)],
                    &[state, decimal(meter.ti().get().into(), &mut h)],
                );
            }
        }
    }
}

/// What to check after an entry whose result matched.
#[derive(Debug, Clone, Copy)]
enum Check {
    /// Nothing more.
    Result,
    /// A units register holds this much (label for the output line).
    Units(Utility, &'static str, u32),
    /// Every register is 0.
    AllCleared,
    /// A key change set is partly entered.
    Pending,
    /// This key and tariff index are installed and no set is pending.
    NewKey([u8; 8], u8),
}

const ACCEPT: &str = "accept";

/// Meter P1's entries before the record round trip: digits, expected result, what must hold.
const BEFORE_POWER_CUT: [(&str, &str, Check); 6] = [
    (
        CTSA01_1,
        ACCEPT,
        Check::Units(Utility::Electricity, "electricity", 1),
    ),
    (CTSA01_1, Rejection::Used.as_str(), Check::Result),
    (OTHER_METER, Rejection::Crc.as_str(), Check::Result),
    (CTSA01_3, ACCEPT, Check::Units(Utility::Water, "water", 1)),
    (CTSA04_1, ACCEPT, Check::AllCleared),
    (NINETEEN_DIGITS, Rejection::Format.as_str(), Check::Result),
];

/// Meter P1's entries after it: the key change, then the old key's token no longer fits.
const AFTER_POWER_CUT: [(&str, &str, Check); 3] = [
    (CTSA05[0], ACCEPT, Check::Pending),
    (CTSA05[1], ACCEPT, Check::NewKey(P1_TI02_KEY, 2)),
    (CTSA01_1, Rejection::Crc.as_str(), Check::Result),
];

/// Runs the whole sequence, printing as it goes, and returns the tally.
pub fn run() -> Tally {
    let mut t = Tally {
        steps: 0,
        ok: 0,
        stack: StackUse::default(),
    };
    let Some(mut meter) = t
        .stack
        .setup
        .measure(|| p1_config().and_then(DemoMeter::new).ok())
    else {
        line(&["setup FAIL meter P1 refused its configuration"]);
        return t;
    };
    for &(digits, expect, check) in &BEFORE_POWER_CUT {
        t.token(&mut meter, digits, expect, check);
    }
    // Power cycle: carry on with the meter read back from its record.
    if let Some(restored) = round_trip(&mut t, &meter) {
        meter = restored;
    }
    for &(digits, expect, check) in &AFTER_POWER_CUT {
        t.token(&mut meter, digits, expect, check);
    }
    dea_known_answer(&mut t);
    #[cfg(feature = "all")]
    misty1_meter(&mut t);
    memory_report(&t);
    t
}

/// Writes the meter's record, reads it back, and checks the copy is the same meter.
fn round_trip(t: &mut Tally, meter: &DemoMeter) -> Option<DemoMeter> {
    let mut record = [0u8; DemoMeter::RECORD_LEN];
    if t.stack
        .write
        .measure(|| meter.write_record(&mut record))
        .is_err()
    {
        t.fail(&["record written"], &["write_record error"]);
        return None;
    }
    let Ok(back) = t.stack.setup.measure(|| DemoMeter::read_record(&record)) else {
        t.fail(&["record read back"], &["read_record error"]);
        return None;
    };
    if same_meter(&back, meter) {
        t.pass("record");
        Some(back)
    } else {
        t.fail(&["the same meter from its record"], &["a different one"]);
        None
    }
}

/// Registers, TID memory, key and key attributes all equal (the key is P1's at this point).
fn same_meter(a: &DemoMeter, b: &DemoMeter) -> bool {
    let attributes = |m: &DemoMeter| (m.ea(), m.kt(), m.krn(), m.ti(), m.ken(), m.base_date());
    Register::ALL
        .iter()
        .all(|&r| a.remaining(r) == b.remaining(r))
        && a.tid_memory() == b.tid_memory()
        && a.has_key(&DecoderKey::Bits64(DecoderKey64::from_bytes(P1_KEY)))
        && b.has_key(&DecoderKey::Bits64(DecoderKey64::from_bytes(P1_KEY)))
        && attributes(a) == attributes(b)
}

/// EA09 on the DES step of P1's DKGA02 derivation (no EA09 token is published).
fn dea_known_answer(t: &mut Tally) {
    let (key, plain, cipher) = DEA_KAT;
    let key = DecoderKey::Bits64(DecoderKey64::from_bytes(key.to_be_bytes()));
    let got = AnyCipher::new(EncryptionAlgorithm::Dea, &key)
        .map(|c| (c.encrypt(plain), c.decrypt(cipher)));
    match got {
        Ok(pair) if pair == (cipher, plain) => t.pass("dea-kat"),
        Ok(_) => t.fail(&["dea-kat 6CA9AAD4270FA73B"], &["another block"]),
        Err(_) => t.fail(&["dea-kat"], &["no dea cipher"]),
    }
}

/// A MISTY1 (EA11) meter P1 accepting its published CTSA01 step 1 token.
#[cfg(feature = "all")]
fn misty1_meter(t: &mut Tally) {
    use crate::published::{MISTY1_CTSA01_1, misty1_p1_config};
    let Some(mut meter) = t
        .stack
        .setup
        .measure(|| misty1_p1_config().and_then(DemoMeter::new).ok())
    else {
        return t.fail(&["a misty1 meter"], &["configuration refused"]);
    };
    t.token(
        &mut meter,
        MISTY1_CTSA01_1,
        "accept",
        Check::Units(Utility::Electricity, "electricity", 1),
    );
}

/// The RAM the decoder needs besides statics: its state, its record and its stack. The
/// state and record are wherever the firmware keeps them (here on `main`'s stack).
fn memory_report(t: &Tally) {
    let (mut n, mut s, mut r) = Default::default();
    line(&[
        "meter state: ",
        usize_decimal(core::mem::size_of::<DemoMeter>(), &mut s),
        " bytes (Meter<",
        usize_decimal(TIDS, &mut n),
        ">), record: ",
        usize_decimal(DemoMeter::RECORD_LEN, &mut r),
        " bytes",
    ]);
    let u = &t.stack;
    let (mut e, mut b, mut w, mut win) = Default::default();
    line(&[
        "stack: enter ",
        usize_decimal(u.enter.bytes, &mut e),
        ", new/read_record ",
        usize_decimal(u.setup.bytes, &mut b),
        ", write_record ",
        usize_decimal(u.write.bytes, &mut w),
        " bytes below the caller (painted ",
        usize_decimal(WINDOW, &mut win),
        "-byte window",
        if u.enter.overflowed || u.setup.overflowed || u.write.overflowed {
            ", REACHED ITS BOTTOM: figures are floors)"
        } else {
            ")"
        },
    ]);
}

/// Prints the summary line: `summary: 11/11 steps ok`, or with `, FAIL` appended.
pub fn summary(t: &Tally) {
    let (mut ok, mut of) = (DecimalBuf::default(), DecimalBuf::default());
    line(&[
        "summary: ",
        decimal(t.ok, &mut ok),
        "/",
        decimal(STEPS, &mut of),
        " steps ok",
        if t.passed() { "" } else { ", FAIL" },
    ]);
}
