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
//! A token whose storage vanished is a different fault. SoftHSM 2.6.1 (measured, and so its
//! `OSToken::index` reads) marks such a token invalid for the rest of the process: handles of
//! a live session then fail with `CKR_OBJECT_HANDLE_INVALID`, searches find nothing,
//! `C_GetTokenInfo` fails with `CKR_GENERAL_ERROR`, and nothing changes when the files come
//! back, except a library reset (`C_Finalize`, `C_Initialize`), which reads the token
//! directory afresh. The store reports the token lost ([`Pool::token_lost`]: its objects,
//! key-encryption key included, are gone, or no slot holds it); the next call then resets the
//! library, at most once per [`RESET_INTERVAL`], while no other call is inside it (every call
//! holds the library's gate shared, a reset holds it exclusively). Sessions of an earlier
//! library epoch are forgotten like faulted ones, in every pool on the module.
//!
//! A session dropped for a fault is forgotten, not closed: after a token or library reset its
//! handle number may already belong to a new session (SoftHSM reuses them, measured), and
//! `C_CloseSession` on it would close that one. Sessions are therefore opened without
//! close-on-drop and closed explicitly only when the pool drops them in good health.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{
    Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard, TryLockError,
};
use std::time::{Duration, Instant};

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

/// The shortest time between two library resets (a token that stays away is not reset in a
/// busy loop; calls in between fail fast with a transient error).
pub(super) const RESET_INTERVAL: Duration = Duration::from_millis(250);

/// One module's library in this process, shared by every pool on it.
struct Library {
    ctx: Pkcs11,
    /// Held shared by every call into the library and exclusively by a reset, so that no call
    /// runs while the library is finalized.
    gate: RwLock<()>,
    /// Moves on at each reset: sessions opened in an earlier epoch are gone.
    epoch: AtomicU64,
    /// When the library was last reset.
    last_reset: Mutex<Option<Instant>>,
}

/// One library per module path for the whole process: `C_Initialize` may run only once per
/// process, and every store on the same module shares it.
fn library(module: &Path) -> Result<Arc<Library>, HsmError> {
    static LIBRARIES: OnceLock<Mutex<HashMap<PathBuf, Arc<Library>>>> = OnceLock::new();
    if !module.exists() {
        return Err(Pkcs11Error::ModuleNotFound {
            path: module.to_path_buf(),
        }
        .into());
    }
    let key = module
        .canonicalize()
        .unwrap_or_else(|_| module.to_path_buf());
    let mut libraries = LIBRARIES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(lib) = libraries.get(&key) {
        return Ok(Arc::clone(lib));
    }
    let ctx = Pkcs11::new(&key).map_err(|_| Pkcs11Error::ModuleLoad {
        path: module.to_path_buf(),
    })?;
    initialize(&ctx)?;
    let lib = Arc::new(Library {
        ctx,
        gate: RwLock::new(()),
        epoch: AtomicU64::new(0),
        last_reset: Mutex::new(None),
    });
    libraries.insert(key, Arc::clone(&lib));
    Ok(lib)
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
        .get_slots_with_token()
        .map_err(|e| hsm_error(Pkcs11Op::FindToken, &e))?;
    for slot in slots {
        // A slot whose token vanished, or whose token fails `C_GetTokenInfo` (SoftHSM2's
        // invalidated token: `CKR_GENERAL_ERROR`), is skipped, not an error.
        if ctx
            .get_token_info(slot)
            .is_ok_and(|info| info.token_initialized() && info.label() == label)
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
    epoch: u64,
    session: Session,
}

/// Sessions to one token (see the module documentation).
pub(super) struct Pool {
    lib: Arc<Library>,
    label: String,
    pin: AuthPin,
    slots: Vec<Mutex<Option<Pooled>>>,
    next: AtomicUsize,
    generation: AtomicU64,
    /// Set when the library reported itself finalized: the next re-open initializes it again.
    reinitialize: AtomicBool,
    /// Set when the token looks lost: the next call resets the library.
    lost: AtomicBool,
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
            lib: library(module)?,
            label: label.to_owned(),
            pin: AuthPin::from(pin.expose().to_owned()),
            slots: (0..size.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            reinitialize: AtomicBool::new(false),
            lost: AtomicBool::new(false),
        };
        let session = {
            let _call = shared(&pool.lib.gate);
            pool.open_session()?
        };
        if let Some(first) = pool.slots.first() {
            *lock(first) = Some(Pooled {
                generation: 0,
                epoch: pool.lib.epoch.load(Ordering::Acquire),
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

    /// Marks the token lost: the next call resets the library (see the module documentation).
    pub(super) fn token_lost(&self) {
        self.lost.store(true, Ordering::Release);
    }

    /// Resets the library if the token was reported lost and the last reset is old enough.
    fn reset_if_lost(&self) {
        if !self.lost.load(Ordering::Acquire) {
            return;
        }
        let mut last = lock(&self.lib.last_reset);
        if last.is_some_and(|t| t.elapsed() < RESET_INTERVAL) {
            return;
        }
        let _all = exclusive(&self.lib.gate);
        if !self.lost.swap(false, Ordering::AcqRel) {
            return;
        }
        // Nothing is inside the library now. A failed finalize (already finalized) or
        // initialize is reported by the next call that opens a session.
        let _ = self.lib.ctx.clone().finalize();
        if initialize(&self.lib.ctx).is_err() {
            self.reinitialize.store(true, Ordering::Release);
        }
        self.lib.epoch.fetch_add(1, Ordering::AcqRel);
        self.generation.fetch_add(1, Ordering::AcqRel);
        *last = Some(Instant::now());
    }

    fn open_session(&self) -> Result<Session, HsmError> {
        if self.reinitialize.swap(false, Ordering::AcqRel) {
            initialize(&self.lib.ctx)?;
        }
        let opened = find_slot(&self.lib.ctx, &self.label)
            .inspect_err(|e| {
                // The slot list is read at C_Initialize: a token that went away comes back
                // only through a reset.
                if matches!(e, HsmError::Pkcs11(Pkcs11Error::TokenNotFound { .. })) {
                    self.token_lost();
                }
            })
            .and_then(|slot| {
                self.lib
                    .ctx
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
        self.reset_if_lost();
        let _call = shared(&self.lib.gate);
        let mut guard = self.checkout().ok_or(HsmError::StorePoisoned)?;
        let mut relogged = false;
        loop {
            let generation = self.generation();
            let epoch = self.lib.epoch.load(Ordering::Acquire);
            if guard
                .as_ref()
                .is_none_or(|p| p.generation != generation || p.epoch != epoch)
            {
                // Forget the stale session (see the module documentation) and open another.
                *guard = None;
                *guard = Some(Pooled {
                    generation,
                    epoch,
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
        let _call = shared(&self.lib.gate);
        let generation = self.generation();
        let epoch = self.lib.epoch.load(Ordering::Acquire);
        for slot in &self.slots {
            if let Some(pooled) = lock(slot).take() {
                if pooled.generation == generation && pooled.epoch == epoch {
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

fn shared(gate: &RwLock<()>) -> RwLockReadGuard<'_, ()> {
    // The gate guards no data: a panic while holding it leaves nothing inconsistent.
    gate.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn exclusive(gate: &RwLock<()>) -> RwLockWriteGuard<'_, ()> {
    gate.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
