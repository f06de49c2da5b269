//! `Pkcs11Store` faults against a real SoftHSM2 token (see `support::in_softhsm`): wrong PIN,
//! missing module or token, a token without a user PIN, a removed key, a library reset, and
//! concurrent use. Module: `STS_PKCS11_MODULE`, default `/usr/lib/softhsm/libsofthsm2.so`; if
//! it is missing these tests fail, naming the variable.

// The whole file is a test: its helpers fail the test by panicking, as assertions do.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod support;

use std::sync::Arc;

use cryptoki::context::Function;
use cryptoki::error::RvError;
use cryptoki::types::AuthPin;
use hsm_core::error::{ObjectFault, Pkcs11Function, Pkcs11Op};
use hsm_core::{
    BaseDate, Dkga, HsmError, Issuer, KeyStore, KeyUse, Pin, Pkcs11Config, Pkcs11Error,
    Pkcs11Store, VendingKey, Window,
};
use support::in_softhsm;
use support::pkcs11::{VK02, VK04, config, import_public_keys, own_session, p1, pin, record};
use token_codec::token::{CreditTransfer, Utility};
use token_codec::{Rnd, Tid, Token, TransferAmount};

#[test]
fn pkcs11_wrong_pin_missing_token_and_store_state_are_typed() {
    in_softhsm(
        "pkcs11_wrong_pin_missing_token_and_store_state_are_typed",
        "typed",
        |label| {
            let err = Pkcs11Store::open(&config(label), &Pin::new("9999".into())).unwrap_err();
            assert_eq!(
                err,
                HsmError::Pkcs11(Pkcs11Error::Call {
                    op: Pkcs11Op::Login,
                    rv: RvError::PinIncorrect,
                    function: Pkcs11Function(Function::Login),
                })
            );
            assert_eq!(
                err.to_string(),
                "pkcs#11 login: C_Login returned CKR_PIN_INCORRECT"
            );
            assert!(!err.is_transient());
            let err = Pkcs11Store::open(&config(label), &Pin::new(String::new())).unwrap_err();
            assert_eq!(err.to_string(), "pin is empty");
            let err = Pkcs11Store::open(&config("no-such-token"), &pin()).unwrap_err();
            assert_eq!(
                err.to_string(),
                "no pkcs#11 token labelled \"no-such-token\" is present"
            );
            let err = Pkcs11Store::open(&config(label), &pin()).unwrap_err();
            assert_eq!(
                err,
                HsmError::Pkcs11(Pkcs11Error::NotInitialized {
                    label: label.to_owned()
                })
            );
            Pkcs11Store::init(&config(label), &pin()).unwrap();
            let err = Pkcs11Store::init(&config(label), &pin()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("token {label:?} already holds a key store")
            );
            Pkcs11Store::open(&config(label), &pin()).unwrap();
        },
    );
}

/// SoftHSM 2.6.1 never locks a PIN (twelve wrong logins in a row leave it usable, measured),
/// so the locked state a test can reach is a token whose user PIN was never set: login fails
/// with `CKR_USER_PIN_NOT_INITIALIZED`, kept as the typed error.
#[test]
fn pkcs11_token_without_user_pin_is_typed() {
    in_softhsm("pkcs11_token_without_user_pin_is_typed", "first", |_| {
        let (ctx, _s) = own_session("first");
        let free = ctx
            .get_all_slots()
            .unwrap()
            .into_iter()
            .find(|s| ctx.get_token_info(*s).is_ok_and(|t| !t.token_initialized()))
            .unwrap();
        ctx.init_token(
            free,
            &AuthPin::from(support::SO_PIN.to_owned()),
            "no-user-pin",
        )
        .unwrap();
        let err = Pkcs11Store::open(&config("no-user-pin"), &pin()).unwrap_err();
        assert!(
            matches!(
                err,
                HsmError::Pkcs11(Pkcs11Error::Call {
                    rv: RvError::UserPinNotInitialized,
                    ..
                })
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "pkcs#11 login: C_Login returned CKR_USER_PIN_NOT_INITIALIZED"
        );
    });
}

#[test]
fn pkcs11_missing_module_is_named() {
    let config = Pkcs11Config::new("/no/such/dir/libsofthsm2.so", "any");
    let err = Pkcs11Store::open(&config, &pin()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pkcs#11 module /no/such/dir/libsofthsm2.so does not exist"
    );
}

#[test]
fn pkcs11_removed_key_is_unknown_and_issuer_works() {
    in_softhsm(
        "pkcs11_removed_key_is_unknown_and_issuer_works",
        "remove",
        |label| {
            let store = Arc::new(Pkcs11Store::init(&config(label), &pin()).unwrap());
            import_public_keys(&store);
            let id = record(Dkga::Dkga02).id;
            // The published CTSA01 token through the vending side's one door.
            let issuer = Issuer::new(store.clone());
            let at = token_codec::UtcMinute::from_civil(2004, 3, 1, 13, 55).unwrap();
            let token = Token::TransferCredit(CreditTransfer {
                utility: Utility::Electricity,
                rnd: Rnd::new(5).unwrap(),
                tid: Tid::for_issue(at, BaseDate::Y1993).unwrap(),
                amount: TransferAmount::from_field(1),
            });
            let digits = issuer.encode(&p1("123456", "01"), at, &[token]).unwrap();
            assert_eq!(digits[0].as_str(), "23716100501183194197");

            // Removed by another store on the same token (as another process would): this
            // store's cached handle dies and the key is reported unknown.
            let other = Pkcs11Store::open(&config(label), &pin()).unwrap();
            other.remove(&id).unwrap();
            let err = store.derive(&id, &p1("123456", "01")).unwrap_err();
            assert_eq!(err, HsmError::UnknownVendingKey { id });
            assert_eq!(
                store.remove(&id).unwrap_err(),
                HsmError::UnknownVendingKey { id }
            );
            assert_eq!(store.records().unwrap(), [record(Dkga::Dkga04)]);
            // An import under a used id is refused.
            let err = store
                .import(
                    &record(Dkga::Dkga04),
                    VendingKey::from_hex(Dkga::Dkga04, VK04).unwrap(),
                )
                .unwrap_err();
            assert_eq!(
                err,
                HsmError::VendingKeyExists {
                    id: record(Dkga::Dkga04).id
                }
            );

            // Re-imported with its credit window closed before the token's date: the Issuer
            // refuses credit with a typed error, and still derives for key change issuance.
            let mut closed = record(Dkga::Dkga02);
            closed.credit_window = Window {
                from: None,
                until: Some(token_codec::UtcMinute::from_civil(2004, 1, 1, 0, 0).unwrap()),
            };
            store
                .import(&closed, VendingKey::from_hex(Dkga::Dkga02, VK02).unwrap())
                .unwrap();
            let token = Token::TransferCredit(CreditTransfer {
                utility: Utility::Electricity,
                rnd: Rnd::new(5).unwrap(),
                tid: Tid::for_issue(at, BaseDate::Y1993).unwrap(),
                amount: TransferAmount::from_field(1),
            });
            let err = issuer
                .encode(&p1("123456", "01"), at, &[token])
                .unwrap_err();
            assert_eq!(
                err,
                HsmError::OutsideWindow {
                    id,
                    use_: KeyUse::Credit,
                    at
                }
            );
            assert_eq!(
                err.to_string(),
                "vending key sgc123456-krn1-kt2 is not valid for credit issuance at 2004-03-01T13:55Z"
            );
        },
    );
}

#[test]
fn pkcs11_recovers_after_a_token_fault() {
    in_softhsm("pkcs11_recovers_after_a_token_fault", "fault", |label| {
        let store = Pkcs11Store::init(&config(label), &pin()).unwrap();
        import_public_keys(&store);
        let id = record(Dkga::Dkga04).id;
        let meter = p1("123457", "01");
        let want = store.derive(&id, &meter).unwrap();

        // Another session logs the application out: the next call logs in again by itself.
        let (ctx, s) = own_session(label);
        s.logout().unwrap();
        assert_eq!(store.derive(&id, &meter).unwrap(), want);

        // The library is finalized under the store (every session dies, as when a token is
        // pulled): one clean, transient error, then recovery on the next call.
        drop(s);
        ctx.finalize().unwrap();
        let err = store.derive(&id, &meter).unwrap_err();
        assert!(err.is_transient(), "{err:?}");
        assert!(
            matches!(err, HsmError::Pkcs11(Pkcs11Error::Call { .. })),
            "{err:?}"
        );
        assert_eq!(store.derive(&id, &meter).unwrap(), want);
        assert_eq!(
            store
                .derive(&record(Dkga::Dkga02).id, &p1("123456", "01"))
                .unwrap()
                .expose_bytes(),
            [0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F]
        );
    });
}

/// The token's directory vanishes under a live store and comes back (what SoftHSM2 sees when
/// its storage goes away): derivations fail with a transient error while it is away, never
/// with "unknown key", and succeed again once it is back (the library is reset and reads the
/// token afresh; SoftHSM2 itself never revalidates it).
#[test]
fn pkcs11_recovers_when_the_token_directory_vanishes() {
    in_softhsm(
        "pkcs11_recovers_when_the_token_directory_vanishes",
        "vanish",
        |label| {
            let store = Pkcs11Store::init(&config(label), &pin()).unwrap();
            import_public_keys(&store);
            let id = record(Dkga::Dkga04).id;
            let meter = p1("123457", "01");
            let want = store.derive(&id, &meter).unwrap();

            let conf = std::fs::read_to_string(std::env::var("SOFTHSM2_CONF").unwrap()).unwrap();
            let tokens = conf
                .lines()
                .find_map(|l| l.strip_prefix("directories.tokendir = "))
                .unwrap()
                .trim()
                .to_owned();
            let token_dir = std::fs::read_dir(&tokens)
                .unwrap()
                .map(|e| e.unwrap().path())
                .find(|p| p.is_dir())
                .unwrap();
            // Out of the token directory: SoftHSM2 takes every directory in it for a token.
            let away = std::path::Path::new(&tokens)
                .parent()
                .unwrap()
                .join("token.away");
            std::fs::rename(&token_dir, &away).unwrap();
            // SoftHSM2 may still serve a loaded object for a moment; then every call fails,
            // transiently.
            let mut failed = 0;
            for _ in 0..10 {
                match store.derive(&id, &meter) {
                    Ok(dk) => assert_eq!(dk, want),
                    Err(e) => {
                        assert!(e.is_transient(), "{e:?}");
                        failed += 1;
                    }
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            assert!(
                failed >= 5,
                "only {failed} of 10 derivations failed while the token was away"
            );
            std::fs::rename(&away, &token_dir).unwrap();
            let started = std::time::Instant::now();
            let got = loop {
                match store.derive(&id, &meter) {
                    Ok(dk) => break dk,
                    Err(e) if e.is_transient() && started.elapsed().as_secs() < 5 => {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    Err(e) => panic!("no recovery: {e:?}"),
                }
            };
            assert_eq!(got, want);
            // The other key, and a removal, still behave as before.
            assert_eq!(
                store
                    .derive(&record(Dkga::Dkga02).id, &p1("123456", "01"))
                    .unwrap()
                    .expose_bytes(),
                [0xE6, 0x53, 0x34, 0x1F, 0x9D, 0x5B, 0xF3, 0x6F]
            );
            store.remove(&id).unwrap();
            assert_eq!(
                store.derive(&id, &meter).unwrap_err(),
                HsmError::UnknownVendingKey { id }
            );
        },
    );
}

#[test]
fn pkcs11_concurrent_derivations_agree() {
    in_softhsm("pkcs11_concurrent_derivations_agree", "threads", |label| {
        let store = Arc::new(Pkcs11Store::init(&config(label), &pin()).unwrap());
        import_public_keys(&store);
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        let (id, meter, want) = if t % 2 == 0 {
                            (
                                record(Dkga::Dkga02).id,
                                p1("123456", "01"),
                                "E653341F9D5BF36F",
                            )
                        } else {
                            (
                                record(Dkga::Dkga04).id,
                                p1("123457", "01"),
                                "AA4BAA8749C10D27",
                            )
                        };
                        let dk = store.derive(&id, &meter).unwrap();
                        let got: String = dk
                            .expose_bytes()
                            .iter()
                            .map(|b| format!("{b:02X}"))
                            .collect();
                        assert_eq!(got, want);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    });
}

#[test]
fn pkcs11_object_fault_messages() {
    let e = Pkcs11Error::Object {
        label: "sgc1-krn1-kt2".into(),
        fault: ObjectFault::MissingKey,
    };
    assert_eq!(
        e.to_string(),
        "vending key objects \"sgc1-krn1-kt2\" on the token: record present but its secret key \
         object is missing"
    );
}
