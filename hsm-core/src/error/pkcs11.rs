//! Faults of the PKCS#11 backend: the module, the token, and each call (cryptoki's habit:
//! the return value and the function that returned it, plus the operation we were doing).

use core::fmt;
use std::error::Error;
use std::path::PathBuf;

use cryptoki::context::Function;
use cryptoki::error::RvError;

/// What went wrong with a PKCS#11 module, token or call. No PIN or key byte is ever carried.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pkcs11Error {
    /// No file at the module path.
    ModuleNotFound {
        /// The path tried.
        path: PathBuf,
    },
    /// A file at the module path that does not load as a PKCS#11 module.
    ModuleLoad {
        /// The path tried.
        path: PathBuf,
    },
    /// No initialized token with this label in any slot (absent, removed, or never
    /// initialized). Slots are found by label, never by number: SoftHSM renumbers them.
    TokenNotFound {
        /// The label asked for.
        label: String,
    },
    /// A PKCS#11 function returned an error.
    Call {
        /// What this crate was doing.
        op: Pkcs11Op,
        /// The return value.
        rv: RvError,
        /// The function that returned it.
        function: Pkcs11Function,
    },
    /// cryptoki refused a call before it reached the module (a length or value it could not
    /// convert).
    Binding {
        /// What this crate was doing.
        op: Pkcs11Op,
    },
    /// The token holds no key store: its key-encryption key is missing (run `sts-keys init`).
    NotInitialized {
        /// The token's label.
        label: String,
    },
    /// `init` on a token that already holds a key store.
    AlreadyInitialized {
        /// The token's label.
        label: String,
    },
    /// An object of a vending key that is malformed or whose partner object is missing.
    Object {
        /// The objects' label (the vending key id).
        label: String,
        /// What is wrong.
        fault: ObjectFault,
    },
}

impl Pkcs11Error {
    /// True for faults that may clear up if the same request is made again later: the token
    /// was removed or reset, a session died, the device failed or is busy. The session that
    /// met the fault has been dropped; the next call opens a new one (and logs in again).
    pub fn is_transient(&self) -> bool {
        match self {
            Pkcs11Error::TokenNotFound { .. } => true,
            Pkcs11Error::Call { rv, .. } => is_transient_rv(*rv),
            _ => false,
        }
    }
}

/// Return values after which a session is dropped and re-opened on the next call.
pub(crate) fn is_session_fault(rv: RvError) -> bool {
    matches!(
        rv,
        RvError::SessionHandleInvalid
            | RvError::SessionClosed
            | RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::TokenNotPresent
            | RvError::TokenNotRecognized
            | RvError::CryptokiNotInitialized
    )
}

/// Return values that a retry may cure: session faults, and a busy or out-of-memory device.
fn is_transient_rv(rv: RvError) -> bool {
    is_session_fault(rv)
        || matches!(
            rv,
            RvError::DeviceMemory
                | RvError::HostMemory
                | RvError::SessionCount
                | RvError::FunctionFailed
                | RvError::UserNotLoggedIn
        )
}

impl fmt::Display for Pkcs11Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pkcs11Error::ModuleNotFound { path } => {
                write!(f, "pkcs#11 module {} does not exist", path.display())
            }
            Pkcs11Error::ModuleLoad { path } => write!(
                f,
                "pkcs#11 module {} did not load as a pkcs#11 library",
                path.display()
            ),
            Pkcs11Error::TokenNotFound { label } => {
                write!(f, "no pkcs#11 token labelled {label:?} is present")
            }
            Pkcs11Error::Call { op, rv, function } => {
                write!(f, "pkcs#11 {op}: {function} returned ")?;
                ckr_name(*rv, f)
            }
            Pkcs11Error::Binding { op } => {
                write!(f, "pkcs#11 {op}: a value could not be passed to the module")
            }
            Pkcs11Error::NotInitialized { label } => write!(
                f,
                "token {label:?} holds no key store (no key-encryption key): run `sts-keys init`"
            ),
            Pkcs11Error::AlreadyInitialized { label } => {
                write!(f, "token {label:?} already holds a key store")
            }
            Pkcs11Error::Object { label, fault } => {
                write!(f, "vending key objects {label:?} on the token: {fault}")
            }
        }
    }
}

impl Error for Pkcs11Error {}

/// Writes a return value as the header names it: `PinIncorrect` → `CKR_PIN_INCORRECT`.
fn ckr_name(rv: RvError, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let camel = format!("{rv:?}");
    f.write_str("CKR_")?;
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            f.write_str("_")?;
        }
        write!(f, "{}", c.to_ascii_uppercase())?;
    }
    Ok(())
}

/// cryptoki's [`Function`], comparable (cryptoki's type is not `PartialEq`) and printed as the
/// C name, `C_Login`.
#[derive(Debug, Clone, Copy)]
pub struct Pkcs11Function(pub Function);

impl PartialEq for Pkcs11Function {
    fn eq(&self, other: &Self) -> bool {
        core::mem::discriminant(&self.0) == core::mem::discriminant(&other.0)
    }
}

impl Eq for Pkcs11Function {}

impl fmt::Display for Pkcs11Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "C_{:?}", self.0)
    }
}

/// What this crate was doing when a PKCS#11 call failed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pkcs11Op {
    /// `C_Initialize`.
    Initialize,
    /// Listing slots and reading token labels.
    FindToken,
    /// Opening a session.
    OpenSession,
    /// Logging the user in.
    Login,
    /// Looking up objects by label.
    FindObjects,
    /// Reading object attributes (never a vending key's value).
    ReadAttributes,
    /// Generating the store's key-encryption key.
    GenerateKek,
    /// Creating a vending key object.
    CreateKey,
    /// Creating a vending key's record object.
    CreateRecord,
    /// Encrypting the DKGA02 XOR term under the key-encryption key.
    SealXorTerm,
    /// Decrypting the DKGA02 XOR term.
    UnsealXorTerm,
    /// The DKGA02 DES step.
    Dkga02Encrypt,
    /// The DKGA04 HMAC step.
    Dkga04Hmac,
    /// Computing a key check value.
    Kcv,
    /// Destroying an object.
    DestroyObject,
    /// Drawing random bytes from the token.
    Random,
}

impl fmt::Display for Pkcs11Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Pkcs11Op::Initialize => "initialize",
            Pkcs11Op::FindToken => "find token",
            Pkcs11Op::OpenSession => "open session",
            Pkcs11Op::Login => "login",
            Pkcs11Op::FindObjects => "find objects",
            Pkcs11Op::ReadAttributes => "read attributes",
            Pkcs11Op::GenerateKek => "generate key-encryption key",
            Pkcs11Op::CreateKey => "create vending key object",
            Pkcs11Op::CreateRecord => "create record object",
            Pkcs11Op::SealXorTerm => "seal dkga02 xor term",
            Pkcs11Op::UnsealXorTerm => "unseal dkga02 xor term",
            Pkcs11Op::Dkga02Encrypt => "dkga02 des encrypt",
            Pkcs11Op::Dkga04Hmac => "dkga04 hmac",
            Pkcs11Op::Kcv => "key check value",
            Pkcs11Op::DestroyObject => "destroy object",
            Pkcs11Op::Random => "generate random",
        })
    }
}

/// What is wrong with a vending key's objects on a token.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectFault {
    /// The record object's value is not a record this crate wrote.
    RecordFormat,
    /// A record without its secret key object.
    MissingKey,
    /// A DKGA02 record without its sealed XOR term.
    MissingXorTerm,
    /// The record names another id than its label.
    LabelMismatch,
}

impl fmt::Display for ObjectFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObjectFault::RecordFormat => "record object does not hold a vending key record",
            ObjectFault::MissingKey => "record present but its secret key object is missing",
            ObjectFault::MissingXorTerm => "dkga02 record without its sealed xor term",
            ObjectFault::LabelMismatch => "record names another vending key than its label",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn call_names_op_function_and_return_value() {
        let e = Pkcs11Error::Call {
            op: Pkcs11Op::Login,
            rv: RvError::PinIncorrect,
            function: Pkcs11Function(Function::Login),
        };
        assert_eq!(
            e.to_string(),
            "pkcs#11 login: C_Login returned CKR_PIN_INCORRECT"
        );
        assert!(!e.is_transient());
        let e = Pkcs11Error::Call {
            op: Pkcs11Op::Dkga02Encrypt,
            rv: RvError::SessionHandleInvalid,
            function: Pkcs11Function(Function::EncryptInit),
        };
        assert_eq!(
            e.to_string(),
            "pkcs#11 dkga02 des encrypt: C_EncryptInit returned CKR_SESSION_HANDLE_INVALID"
        );
        assert!(e.is_transient());
        assert_ne!(
            Pkcs11Function(Function::Login),
            Pkcs11Function(Function::Logout)
        );
    }

    #[test]
    fn locked_pin_is_not_transient_but_a_pulled_token_is() {
        let call = |rv| Pkcs11Error::Call {
            op: Pkcs11Op::Login,
            rv,
            function: Pkcs11Function(Function::Login),
        };
        assert!(!call(RvError::PinLocked).is_transient());
        assert_eq!(
            call(RvError::PinLocked).to_string(),
            "pkcs#11 login: C_Login returned CKR_PIN_LOCKED"
        );
        for rv in [
            RvError::DeviceRemoved,
            RvError::TokenNotPresent,
            RvError::CryptokiNotInitialized,
        ] {
            assert!(call(rv).is_transient(), "{rv:?}");
            assert!(is_session_fault(rv));
        }
        assert!(Pkcs11Error::TokenNotFound { label: "L".into() }.is_transient());
    }
}
