//! Sessions to one token, shared by threads.
//!
//! A cryptoki `Session` is `Send` but not `Sync`, so the pool keeps a few sessions, each
//! behind its own mutex; a call takes a free one (round robin, waiting only when all are
//! busy). Sessions are opened lazily and logged in once: PKCS#11 login state belongs to the
//! application, so the second session's login answers `CKR_USER_ALREADY_LOGGED_IN`, which is
//! success here.
//!
//! Faults: a call that fails with `CKR_USER_NOT_LOGGED_IN` logs in again and is retried once.
//! So does one that fails with `CKR_OBJECT_HANDLE_INVALID` or `CKR_KEY_HANDLE_INVALID` from a
//! session that turns out to be logged out: SoftHSM answers a logged-out session's use of a
//! private key that way (measured), not with `CKR_USER_NOT_LOGGED_IN`. Lookups check the login
//! state before they search, since a logged-out search finds no private object and would
//! report a stored key as unknown.
//! A session that fails with a session fault (`CKR_SESSION_HANDLE_INVALID`,
//! `CKR_DEVICE_REMOVED`, `CKR_TOKEN_NOT_PRESENT`, `CKR_CRYPTOKI_NOT_INITIALIZED`, …) is dropped
//! and the call returns a transient error; the pool's generation moves on, so every other
//! pooled session is re-opened at its next use too (their handles died with the same fault),
//! and cached object handles are looked up again. The token's slot is found again by label at
//! each re-open: a re-inserted token may sit in another slot.
//!
//! A session dropped for a fault is forgotten, not closed: after a token or library reset its
//! handle number may already belong to a new session (SoftHSM reuses them, measured), and
//! `C_CloseSession` on it would close that one. Sessions are therefore opened without
//! close-on-drop and closed explicitly only when the pool drops them in good health.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, TryLockError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use crate::error::{HsmError, Pkcs11Error, Pkcs11Function, Pkcs11Op, is_session_fault};
use crate::passphrase::Pin;

/// A failed step inside a pooled call: a cryptoki error tagged with our operation (so the pool
/// can look at the return value), or an error of ours.
pub(super) enum CallError {
    Pkcs11 { op: Pkcs11Op, err: CkError },
    Hsm(HsmError),
}

impl From<HsmError> for CallError {
    fn from(e: HsmError) -> Self {
        CallError::Hsm(e)
    }
}

impl From<Pkcs11Error> for CallError {
    fn from(e: Pkcs11Error) -> Self {
        CallError::Hsm(e.into())
    }
}

/// Tags a cryptoki result with the operation it belongs to.
pub(super) fn step<T>(op: Pkcs11Op, result: cryptoki::error::Result<T>) -> Result<T, CallError> {
    result.map_err(|err| CallError::Pkcs11 { op, err })
}

/// Our error for a cryptoki error during `op`.
pub(super) fn hsm_error(op: Pkcs11Op, err: &CkError) -> HsmError {
    match err {
        CkError::Pkcs11(rv, function) => Pkcs11Error::Call {
            op,
            rv: *rv,
            function: Pkcs11Function(*function),
        },
        _ => Pkcs11Error::Binding { op },
    }
    .into()
}

impl CallError {
    fn into_hsm(self) -> HsmError {
        match self {
            CallError::Pkcs11 { op, err } => hsm_error(op, &err),
            CallError::Hsm(e) => e,
        }
    }

    fn rv(&self) -> Option<RvError> {
        match self {
            CallError::Pkcs11 {
                err: CkError::Pkcs11(rv, _),
                ..
            } => Some(*rv),
            CallError::Hsm(HsmError::Pkcs11(Pkcs11Error::Call { rv, .. })) => Some(*rv),
            _ => None,
        }
    }
}

/// One cryptoki context per module path for the whole process: `C_Initialize` may run only
/// once per process, and every store on the same module shares it.
fn context(module: &Path) -> Result<Pkcs11, HsmError> {
    static CONTEXTS: OnceLock<Mutex<HashMap<PathBuf, Pkcs11>>> = OnceLock::new();
    if !module.exists() {
        return Err(Pkcs11Error::ModuleNotFound {
            path: module.to_path_buf(),
        }
        .into());
    }
    let key = module
        .canonicalize()
        .unwrap_or_else(|_| module.to_path_buf());
    let mut contexts = CONTEXTS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(ctx) = contexts.get(&key) {
        return Ok(ctx.clone());
    }
    let ctx = Pkcs11::new(&key).map_err(|_| Pkcs11Error::ModuleLoad {
        path: module.to_path_buf(),
    })?;
    initialize(&ctx)?;
    contexts.insert(key, ctx.clone());
    Ok(ctx)
}

/// `C_Initialize`, accepting a library someone in this process already initialized.
fn initialize(ctx: &Pkcs11) -> Result<(), HsmError> {
    match ctx.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => Ok(()),
        Err(e) => Err(hsm_error(Pkcs11Op::Initialize, &e)),
    }
}

/// The slot holding the initialized token labelled `label`.
fn find_slot(ctx: &Pkcs11, label: &str) -> Result<Slot, HsmError> {
    let slots = ctx
        .get_slots_with_initialized_token()
        .map_err(|e| hsm_error(Pkcs11Op::FindToken, &e))?;
    for slot in slots {
        // A slot whose token vanished between the two calls is skipped, not an error.
        if ctx
            .get_token_info(slot)
            .is_ok_and(|info| info.label() == label)
        {
            return Ok(slot);
        }
    }
    Err(Pkcs11Error::TokenNotFound {
        label: label.to_owned(),
    }
    .into())
}

struct Pooled {
    generation: u64,
    session: Session,
}

/// Sessions to one token (see the module documentation).
pub(super) struct Pool {
    ctx: Pkcs11,
    label: String,
    pin: AuthPin,
    slots: Vec<Mutex<Option<Pooled>>>,
    next: AtomicUsize,
    generation: AtomicU64,
    /// Set when the library reported itself finalized: the next re-open initializes it again.
    reinitialize: AtomicBool,
}

impl Pool {
    /// Loads the module, finds the token and logs in on a first session (so a wrong PIN fails
    /// here). `size` sessions at most.
    pub(super) fn connect(
        module: &Path,
        label: &str,
        pin: &Pin,
        size: usize,
    ) -> Result<Self, HsmError> {
        pin.check_not_empty()?;
        let pool = Pool {
            ctx: context(module)?,
            label: label.to_owned(),
            pin: AuthPin::from(pin.expose().to_owned()),
            slots: (0..size.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            reinitialize: AtomicBool::new(false),
        };
        let session = pool.open_session()?;
        if let Some(first) = pool.slots.first() {
            *lock(first) = Some(Pooled {
                generation: 0,
                session,
            });
        }
        Ok(pool)
    }

    /// The token's label.
    pub(super) fn label(&self) -> &str {
        &self.label
    }

    /// Moves on whenever a session fault was seen; cached object handles of an older
    /// generation are stale.
    pub(super) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn open_session(&self) -> Result<Session, HsmError> {
        if self.reinitialize.swap(false, Ordering::AcqRel) {
            initialize(&self.ctx)?;
        }
        let opened = find_slot(&self.ctx, &self.label).and_then(|slot| {
            self.ctx
                .open_rw_session_no_drop(slot)
                .map_err(|e| hsm_error(Pkcs11Op::OpenSession, &e))
        });
        let session = opened.inspect_err(|e| self.note_fault(e))?;
        self.login(&session).inspect_err(|e| self.note_fault(e))?;
        Ok(session)
    }

    fn login(&self, session: &Session) -> Result<(), HsmError> {
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => Ok(()),
            Err(e) => Err(hsm_error(Pkcs11Op::Login, &e)),
        }
    }

    /// Records a fault: a finalized library is initialized again at the next re-open.
    fn note_fault(&self, e: &HsmError) {
        if let HsmError::Pkcs11(Pkcs11Error::Call {
            rv: RvError::CryptokiNotInitialized,
            ..
        }) = e
        {
            self.reinitialize.store(true, Ordering::Release);
        }
    }

    /// Takes a free session slot, or waits for the next one in turn.
    fn checkout(&self) -> Option<MutexGuard<'_, Option<Pooled>>> {
        let n = self.slots.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % n.max(1);
        for i in 0..n {
            let slot = self.slots.get((start + i) % n)?;
            match slot.try_lock() {
                Ok(guard) => return Some(guard),
                Err(TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        self.slots.get(start).map(lock)
    }

    /// True unless the session is known to be logged out.
    fn logged_in(session: &Session) -> bool {
        session.get_session_info().map_or(true, |info| {
            matches!(
                info.session_state(),
                SessionState::RoUser | SessionState::RwUser
            )
        })
    }

    /// Runs `f` on a logged-in session (see the module documentation for faults).
    pub(super) fn run<T>(
        &self,
        f: impl FnMut(&Session) -> Result<T, CallError>,
    ) -> Result<T, HsmError> {
        self.run_inner(false, f)
    }

    /// [`Pool::run`] for lookups: checks the login state first (one more call), so a search
    /// cannot miss private objects.
    pub(super) fn run_lookup<T>(
        &self,
        f: impl FnMut(&Session) -> Result<T, CallError>,
    ) -> Result<T, HsmError> {
        self.run_inner(true, f)
    }

    fn run_inner<T>(
        &self,
        check_login: bool,
        mut f: impl FnMut(&Session) -> Result<T, CallError>,
    ) -> Result<T, HsmError> {
        let mut guard = self.checkout().ok_or(HsmError::StorePoisoned)?;
        let mut relogged = false;
        loop {
            let generation = self.generation();
            if guard.as_ref().is_none_or(|p| p.generation != generation) {
                // Forget the stale session (see the module documentation) and open another.
                *guard = None;
                *guard = Some(Pooled {
                    generation,
                    session: self.open_session()?,
                });
            }
            let Some(pooled) = guard.as_ref() else {
                return Err(HsmError::StorePoisoned);
            };
            if check_login && !relogged && !Self::logged_in(&pooled.session) {
                relogged = true;
                if let Err(e) = self.login(&pooled.session) {
                    return Err(self.settle(&mut guard, e));
                }
            }
            let err = match f(&pooled.session) {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let logged_out = match err.rv() {
                Some(RvError::UserNotLoggedIn) => true,
                Some(RvError::ObjectHandleInvalid | RvError::KeyHandleInvalid) => {
                    !Self::logged_in(&pooled.session)
                }
                _ => false,
            };
            if !logged_out || relogged {
                return Err(self.settle(&mut guard, err.into_hsm()));
            }
            relogged = true;
            if let Err(e) = self.login(&pooled.session) {
                return Err(self.settle(&mut guard, e));
            }
        }
    }

    /// Passes `e` on; if it is a session fault, first drops the session and moves the pool's
    /// generation on (every other pooled session and cached handle is then renewed too).
    fn settle(&self, guard: &mut Option<Pooled>, e: HsmError) -> HsmError {
        if let HsmError::Pkcs11(Pkcs11Error::Call { rv, .. }) = e {
            if is_session_fault(rv) {
                *guard = None;
                self.generation.fetch_add(1, Ordering::AcqRel);
                self.note_fault(&e);
            }
        }
        e
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let generation = self.generation();
        for slot in &self.slots {
            if let Some(pooled) = lock(slot).take() {
                if pooled.generation == generation {
                    // Nothing to do about a failure to close while shutting down.
                    let _ = pooled.session.close();
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding a session leaves nothing half-done that matters: a session is
    // either usable or fails its next call, which the pool handles.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
