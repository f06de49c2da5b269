//! Helpers for the PKCS#11 tests: store configuration, the public test keys and records, and a
//! session of the test's own on the token.

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use hsm_core::{
    BaseDate, Dkga, EncryptionAlgorithm, KeyExpiryNumber, KeyRevision, KeyStore, KeyType as Kt,
    MeterIdentity, Pin, Pkcs11Config, Pkcs11Store, VendingKey, VendingKeyId, VendingKeyRecord,
    Window,
};

use super::{USER_PIN, module};

pub fn config(label: &str) -> Pkcs11Config {
    Pkcs11Config::new(module(), label)
}

pub fn pin() -> Pin {
    Pin::new(USER_PIN.to_owned())
}

pub fn p1(sgc: &str, ti: &str) -> MeterIdentity {
    MeterIdentity::new(
        "600727000000000009".parse().unwrap(),
        sgc.parse().unwrap(),
        ti.parse().unwrap(),
        KeyRevision::new(1).unwrap(),
        Kt::Dutk,
    )
}

pub fn record(dkga: Dkga) -> VendingKeyRecord {
    let sgc = if dkga == Dkga::Dkga02 {
        "123456"
    } else {
        "123457"
    };
    VendingKeyRecord {
        id: VendingKeyId {
            sgc: sgc.parse().unwrap(),
            krn: KeyRevision::new(1).unwrap(),
            kt: Kt::Dutk,
        },
        dkga,
        ea: EncryptionAlgorithm::Sta,
        base_date: BaseDate::Y1993,
        ken: KeyExpiryNumber::NEVER,
        credit_window: Window::ALWAYS,
        key_change_window: Window::ALWAYS,
    }
}

pub const VK02: &str = "ABABABABABABABAB";
pub const VK04: &str = "ABABABABABABABAB949494949494949401234567";

pub fn import_public_keys(store: &Pkcs11Store) {
    store
        .import(
            &record(Dkga::Dkga02),
            VendingKey::from_hex(Dkga::Dkga02, VK02).unwrap(),
        )
        .unwrap();
    store
        .import(
            &record(Dkga::Dkga04),
            VendingKey::from_hex(Dkga::Dkga04, VK04).unwrap(),
        )
        .unwrap();
}

/// A session of our own on the token, through the same (process-wide) library instance.
pub fn own_session(label: &str) -> (Pkcs11, Session) {
    let ctx = Pkcs11::new(module()).unwrap();
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => panic!("{e}"),
    }
    let slot = ctx
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| ctx.get_token_info(*s).unwrap().label() == label)
        .unwrap();
    let session = ctx.open_rw_session(slot).unwrap();
    match session.login(UserType::User, Some(&AuthPin::from(USER_PIN.to_owned()))) {
        Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
        Err(e) => panic!("{e}"),
    }
    (ctx, session)
}
