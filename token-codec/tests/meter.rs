//! The meter state machine: published tokens on the published P1 key, every rejection
//! category, key change sets (complete, interrupted, out of order), persistence, and random
//! entry sequences.

// Test code: a panic is a failing test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use token_codec::meter::{Register, TidVerdict};
use token_codec::token::{
    CreditTransfer, CurrencyTransfer, KeyChangeSet, Management, ManagementFunction,
    NewKeyAttributes, RegisterSelector, Stamp, Utility,
};
use token_codec::{
    Accepted, AnyCipher, BaseDate, CurrencyAmount, DecoderKey, DecoderKey64, EncryptionAlgorithm,
    KeyExpiryNumber, KeyRevision, KeyType, Meter, MeterConfig, Rejection, Rnd, SupplyGroupCode,
    TariffIndex, Tid, Token, TransferAmount, encode,
};

/// P1's DKGA02 decoder key (SPEC-crypto §5.4) and its TI 02 successor (CTSA05).
const P1: [u8; 8] = [0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F];
const P1_TI02: [u8; 8] = [0x06, 0x0B, 0x86, 0x43, 0xC5, 0x9A, 0x27, 0xF1];
/// CTSA01 step 1 (0.1 kWh), CTSA01 step 3 (water), CTSA04 step 1 (clear all), CTSA05 pair.
const CTSA01_1: &str = "23716100501183194197";
const CTSA01_3: &str = "42502136492215507402";
const CTSA04_1: &str = "29511990995826640868";
const CTSA05: [&str; 2] = ["51638423060042734509", "15361891762113502242"];
/// CTSA25 (another key): fails the CRC on P1.
const OTHER_METER: &str = "15697331168573253829";

fn config(ea: EncryptionAlgorithm, key: DecoderKey) -> MeterConfig {
    MeterConfig {
        ea,
        key,
        kt: KeyType::Dutk,
        krn: KeyRevision::new(1).unwrap(),
        ti: TariffIndex::new(1).unwrap(),
        ken: KeyExpiryNumber::NEVER,
        base_date: BaseDate::Y1993,
        sgc: None,
        tid_capacity: 50,
        accept_extensions: false,
    }
}

fn p1() -> Meter {
    Meter::new(config(
        EncryptionAlgorithm::Sta,
        DecoderKey::Bits64(DecoderKey64::from_bytes(P1)),
    ))
    .unwrap()
}

fn name(r: Result<Accepted, Rejection>) -> &'static str {
    match r {
        Ok(_) => "accept",
        Err(e) => e.as_str(),
    }
}

fn electricity(m: &Meter) -> u32 {
    m.remaining(Register::Units(Utility::Electricity))
}

#[test]
fn published_tokens_on_the_p1_meter() {
    let mut m = p1();
    assert_eq!(name(m.enter(CTSA01_1)), "accept");
    assert_eq!(electricity(&m), 1);
    assert_eq!(name(m.enter(CTSA01_1)), "used");
    assert_eq!(name(m.enter(OTHER_METER)), "crc");
    assert_eq!(name(m.enter("2371 6100 5011 8319 419")), "format");
    assert_eq!(name(m.enter(CTSA01_3)), "accept");
    assert_eq!(m.remaining(Register::Units(Utility::Water)), 1);
    assert_eq!(
        electricity(&m),
        1,
        "a water token never touches electricity"
    );
    assert_eq!(name(m.enter(CTSA04_1)), "accept");
    assert_eq!(electricity(&m), 0);
    assert_eq!(m.remaining(Register::Units(Utility::Water)), 0);
}

#[test]
fn published_key_change_installs_the_new_key() {
    let mut m = p1();
    assert_eq!(m.enter(CTSA05[0]), Ok(Accepted::KeyChangeSection));
    assert!(m.key_change_pending());
    assert_eq!(
        m.enter(CTSA05[1]),
        Ok(Accepted::KeyChanged { rollover: false })
    );
    assert!(m.has_key(&DecoderKey::Bits64(DecoderKey64::from_bytes(P1_TI02))));
    assert_eq!(m.ti().get(), 2);
    assert_eq!(m.krn().get(), 1);
    // The old key's tokens now fail the CRC.
    assert_eq!(name(m.enter(CTSA01_1)), "crc");
}

#[test]
fn interrupted_and_out_of_order_sets_change_nothing() {
    // 2nd section first: continues no set, ignored.
    let mut m = p1();
    assert_eq!(m.enter(CTSA05[1]), Ok(Accepted::Ignored));
    assert!(m.has_key(&DecoderKey::Bits64(DecoderKey64::from_bytes(P1))));
    // Interrupted by a credit token (accepted itself), then the 2nd section is ignored.
    assert_eq!(name(m.enter(CTSA05[0])), "accept");
    assert_eq!(name(m.enter(CTSA01_1)), "accept");
    assert!(!m.key_change_pending());
    assert_eq!(m.enter(CTSA05[1]), Ok(Accepted::Ignored));
    assert!(m.has_key(&DecoderKey::Bits64(DecoderKey64::from_bytes(P1))));
    // Interrupted by a mistyped entry: whatever its result, the set is gone.
    assert_eq!(name(m.enter(CTSA05[0])), "accept");
    assert_eq!(name(m.enter("123")), "format");
    assert_eq!(m.enter(CTSA05[1]), Ok(Accepted::Ignored));
    // A repeated 1st section restarts the set, which then completes.
    assert_eq!(name(m.enter(CTSA05[0])), "accept");
    assert_eq!(name(m.enter(CTSA05[0])), "accept");
    assert_eq!(
        m.enter(CTSA05[1]),
        Ok(Accepted::KeyChanged { rollover: false })
    );
}

struct Vending {
    cipher: AnyCipher,
    next_tid: u32,
}

impl Vending {
    fn new(ea: EncryptionAlgorithm, key: &DecoderKey) -> Self {
        Self {
            cipher: AnyCipher::new(ea, key).unwrap(),
            next_tid: 1_000_000,
        }
    }
    fn tid(&mut self) -> Tid {
        self.next_tid += 1;
        Tid::new(self.next_tid).unwrap()
    }
    fn credit(&mut self, utility: Utility, field: u16) -> String {
        let tid = self.tid();
        self.token(Token::TransferCredit(CreditTransfer {
            utility,
            rnd: Rnd::new(3).unwrap(),
            tid,
            amount: TransferAmount::from_field(field),
        }))
    }
    fn management(&mut self, function: ManagementFunction) -> String {
        let stamp = Stamp {
            rnd: Rnd::new(7).unwrap(),
            tid: self.tid(),
        };
        self.token(Token::Management(Management { stamp, function }))
    }
    fn token(&self, t: Token) -> String {
        encode(&t, &self.cipher).to_string()
    }
    fn set(
        &self,
        key: &DecoderKey,
        attrs: NewKeyAttributes,
        sgc: Option<SupplyGroupCode>,
    ) -> Vec<String> {
        KeyChangeSet::new(key, &attrs, sgc)
            .unwrap()
            .tokens()
            .map(|t| self.token(t.clone()))
            .collect()
    }
}

fn attrs(kt: KeyType, rollover: bool) -> NewKeyAttributes {
    NewKeyAttributes {
        ken: KeyExpiryNumber::new(0xFE),
        krn: KeyRevision::new(2).unwrap(),
        kt,
        ti: TariffIndex::new(7).unwrap(),
        rollover,
    }
}

#[test]
fn four_token_set_with_rollover_on_a_misty1_meter() {
    let old = DecoderKey::from_slice(&[0x11; 16]).unwrap();
    let new = DecoderKey::from_slice(&[0x22; 16]).unwrap();
    let mut m: Meter = Meter::new(config(EncryptionAlgorithm::Misty1, old.clone())).unwrap();
    let mut v = Vending::new(EncryptionAlgorithm::Misty1, &old);
    assert_eq!(name(m.enter(&v.credit(Utility::Electricity, 10))), "accept");
    let set = v.set(
        &new,
        attrs(KeyType::Dutk, true),
        Some(SupplyGroupCode::new(654_321).unwrap()),
    );
    assert_eq!(set.len(), 4);
    for (i, digits) in set.iter().enumerate() {
        let r = m.enter(digits);
        if i < 3 {
            assert_eq!(r, Ok(Accepted::KeyChangeSection), "section {}", i + 1);
            assert!(
                m.has_key(&old),
                "nothing installed before the set is complete"
            );
        } else {
            assert_eq!(r, Ok(Accepted::KeyChanged { rollover: true }));
        }
    }
    assert!(m.has_key(&new));
    assert_eq!(m.base_date(), BaseDate::Y2014);
    assert!(m.tid_memory().is_empty());
    assert_eq!(m.sgc().map(SupplyGroupCode::get), Some(654_321));
    assert_eq!((m.ken().get(), m.krn().get(), m.ti().get()), (0xFE, 2, 7));
    assert_eq!(electricity(&m), 10, "a key change keeps the credit");
}

#[test]
fn three_token_set_carries_the_sgc() {
    let old = DecoderKey::from_slice(&P1).unwrap();
    let new = DecoderKey::from_slice(&[0x5A; 8]).unwrap();
    let mut m = p1();
    let v = Vending::new(EncryptionAlgorithm::Sta, &old);
    let set = v.set(
        &new,
        attrs(KeyType::Dutk, false),
        Some(SupplyGroupCode::new(201_457).unwrap()),
    );
    assert_eq!(set.len(), 3);
    assert_eq!(name(m.enter(&set[0])), "accept");
    assert_eq!(
        m.enter(&set[1]),
        Ok(Accepted::KeyChangeSection),
        "the flag says an SGC token follows"
    );
    assert_eq!(
        m.enter(&set[2]),
        Ok(Accepted::KeyChanged { rollover: false })
    );
    assert!(m.has_key(&new));
    assert_eq!(m.sgc().map(SupplyGroupCode::get), Some(201_457));
}

#[test]
fn key_type_rules() {
    let old = DecoderKey::from_slice(&P1).unwrap();
    let v = Vending::new(EncryptionAlgorithm::Sta, &old);
    let new = DecoderKey::from_slice(&[0x33; 8]).unwrap();
    // A set installing DITK: every section but the last accepts, the last answers key_type.
    let mut m = p1();
    let set = v.set(&new, attrs(KeyType::Ditk, false), None);
    assert_eq!(name(m.enter(&set[0])), "accept");
    assert_eq!(name(m.enter(&set[1])), "key_type");
    assert!(m.has_key(&old));
    // Moving to a default key (DDTK): credit is then refused with ddtk, management is not.
    let set = v.set(&new, attrs(KeyType::Ddtk, false), None);
    m.enter(&set[0]).unwrap();
    m.enter(&set[1]).unwrap();
    let mut v2 = Vending::new(EncryptionAlgorithm::Sta, &new);
    assert_eq!(name(m.enter(&v2.credit(Utility::Electricity, 5))), "ddtk");
    assert_eq!(
        name(m.enter(&v2.management(ManagementFunction::ClearCredit(RegisterSelector::ALL)))),
        "accept"
    );
}

#[test]
fn rejection_categories() {
    let key = DecoderKey::from_slice(&P1).unwrap();
    let mut v = Vending::new(EncryptionAlgorithm::Sta, &key);
    let mut m = p1();
    // range: clear credit for register 9; the TID is not consumed by a refused token.
    let bad = v.management(ManagementFunction::ClearCredit(RegisterSelector::new(9)));
    assert_eq!(name(m.enter(&bad)), "range");
    assert_eq!(m.tid_memory().len(), 0);
    // overflow: a register at capacity.
    m.set_remaining(Register::Units(Utility::Gas), u32::MAX - 5);
    let big = v.credit(Utility::Gas, 10);
    assert_eq!(name(m.enter(&big)), "overflow");
    assert_eq!(m.remaining(Register::Units(Utility::Gas)), u32::MAX - 5);
    assert_eq!(
        m.tid_memory().len(),
        0,
        "refused by overflow: memory unchanged"
    );
    // A currency debit below zero is overflow too.
    let tid = v.tid();
    let debit = Token::TransferCurrency(CurrencyTransfer {
        utility: Utility::Electricity,
        tid,
        amount: CurrencyAmount::from_units(-5).unwrap(),
    });
    assert_eq!(name(m.enter(&v.token(debit))), "overflow");
    // key_expired: KEN below the TID's high byte.
    let mut expiring = config(EncryptionAlgorithm::Sta, key.clone());
    expiring.ken = KeyExpiryNumber::new(0x0E);
    let mut m2: Meter = Meter::new(expiring).unwrap();
    assert_eq!(
        name(m2.enter(&v.credit(Utility::Electricity, 1))),
        "key_expired"
    );
    // function: class 3, and an undefined class 0 subclass (only reachable by crafting).
    assert_eq!(name(m.enter("00000000000402653184")), "function");
    // old: memory full and lower than all.
    let mut small = config(EncryptionAlgorithm::Sta, key);
    small.tid_capacity = 2;
    let mut m3: Meter = Meter::new(small).unwrap();
    let first = v.credit(Utility::Electricity, 1);
    let _ = v.tid();
    let a = v.credit(Utility::Electricity, 1);
    let b = v.credit(Utility::Electricity, 1);
    assert_eq!(name(m3.enter(&a)), "accept");
    assert_eq!(name(m3.enter(&b)), "accept");
    assert_eq!(name(m3.enter(&first)), "old");
}

#[test]
fn low_credit_warning_once_per_crossing() {
    let mut m = p1();
    let r = Register::Units(Utility::Electricity);
    m.set_remaining(r, 100);
    m.set_low_credit_threshold(r, 20);
    assert_eq!(m.consume(r, 70), None);
    assert_eq!(
        m.consume(r, 15),
        Some(token_codec::meter::MeterEvent::LowCredit {
            register: r,
            remaining: 15
        })
    );
    assert_eq!(m.consume(r, 5), None, "warned once");
    assert_eq!(
        m.consume(r, 50),
        Some(token_codec::meter::MeterEvent::CreditExhausted { register: r })
    );
    assert_eq!(m.remaining(r), 0);
}

#[test]
fn record_round_trip_and_corruption() {
    let mut m = p1();
    m.enter(CTSA01_1).unwrap();
    m.enter(CTSA05[0]).unwrap();
    m.set_tamper();
    let mut rec = vec![0u8; Meter::<50>::RECORD_LEN];
    m.write_record(&mut rec).unwrap();
    // Power cut between the sections: the restored meter completes the set.
    let mut back: Meter = Meter::read_record(&rec).unwrap();
    assert!(back.tamper() && back.key_change_pending());
    assert_eq!(name(back.enter(CTSA01_1)), "used");
    let mut again: Meter = Meter::read_record(&rec).unwrap();
    assert_eq!(
        again.enter(CTSA05[1]),
        Ok(Accepted::KeyChanged { rollover: false })
    );
    // Any single flipped bit is detected.
    for i in 0..rec.len() {
        for bit in [0x01u8, 0x80] {
            let mut bad = rec.clone();
            bad[i] ^= bit;
            assert!(
                Meter::<50>::read_record(&bad).is_err(),
                "byte {i} bit {bit:#x}"
            );
        }
    }
    assert!(Meter::<50>::read_record(&rec[1..]).is_err());
    assert!(Meter::<49>::read_record(&rec).is_err());
}

/// One keypad entry in a random session.
#[derive(Debug, Clone)]
enum Entry {
    Credit(u16),
    Replay(usize),
    Garbage(String),
    OtherKey(u16),
    ClearCredit(u16),
    KeyChangeSection(usize),
}

fn entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        4 => (0u16..2000).prop_map(Entry::Credit),
        2 => any::<usize>().prop_map(Entry::Replay),
        1 => "[0-9 -]{0,24}".prop_map(Entry::Garbage),
        1 => (0u16..2000).prop_map(Entry::OtherKey),
        1 => prop::sample::select(vec![0u16, 1, 4, 8, 0xFFFF]).prop_map(Entry::ClearCredit),
        1 => (0usize..2).prop_map(Entry::KeyChangeSection),
    ]
}

proptest! {
    /// Random sessions never accept a TID twice, never corrupt a register, and keep the
    /// electricity register equal to what the accepted tokens say.
    #[test]
    fn random_sessions_keep_state_consistent(entries in prop::collection::vec(entry(), 1..60), cap in 1usize..8) {
        let key = DecoderKey::from_slice(&P1).unwrap();
        let mut v = Vending::new(EncryptionAlgorithm::Sta, &key);
        let mut other = Vending::new(EncryptionAlgorithm::Sta, &DecoderKey::from_slice(&[9; 8]).unwrap());
        let mut cfg = config(EncryptionAlgorithm::Sta, key);
        cfg.tid_capacity = cap;
        let mut m: Meter = Meter::new(cfg).unwrap();
        let mut issued: Vec<(String, Tid)> = Vec::new();
        let mut accepted_tids: Vec<Tid> = Vec::new();
        let mut expected: u64 = 0;
        for e in entries {
            let before = m.tid_memory().clone();
            let (digits, tid) = match e {
                Entry::Credit(units) => {
                    let d = v.credit(Utility::Electricity, units);
                    let t = Tid::new(v.next_tid).unwrap();
                    issued.push((d.clone(), t));
                    (d, Some(t))
                }
                Entry::Replay(i) if !issued.is_empty() => {
                    let (d, t) = issued[i % issued.len()].clone();
                    (d, Some(t))
                }
                Entry::Replay(_) => continue,
                Entry::Garbage(s) => (s, None),
                Entry::OtherKey(units) => (other.credit(Utility::Electricity, units), None),
                Entry::ClearCredit(r) => {
                    let d = v.management(ManagementFunction::ClearCredit(RegisterSelector::new(r)));
                    (d, Some(Tid::new(v.next_tid).unwrap()))
                }
                Entry::KeyChangeSection(i) => (CTSA05[i].to_owned(), None),
            };
            let r = m.enter(&digits);
            match r {
                Ok(Accepted::Credit { token, balance }) => {
                    prop_assert!(!accepted_tids.contains(&token.tid), "TID accepted twice");
                    accepted_tids.push(token.tid);
                    expected += u64::from(token.amount.units());
                    prop_assert_eq!(u64::from(balance), expected);
                }
                Ok(Accepted::Management(ManagementFunction::ClearCredit(sel))) => {
                    let t = tid.unwrap();
                    prop_assert!(!accepted_tids.contains(&t));
                    accepted_tids.push(t);
                    if sel.register().is_none_or(|reg| reg == 0) {
                        expected = 0;
                    }
                }
                Ok(Accepted::KeyChanged { .. }) => return Ok(()), // the key moved on: session over
                Ok(_) => {}
                Err(Rejection::Used) => prop_assert!(before.check(tid.unwrap()) == Err(TidVerdict::Used)),
                Err(_) => prop_assert_eq!(m.tid_memory(), &before, "a refused token leaves the memory"),
            }
            prop_assert_eq!(u64::from(electricity(&m)), expected);
        }
    }
}
