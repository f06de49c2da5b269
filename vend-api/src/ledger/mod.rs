//! The token ledger: meters, issued tokens, the audit chain and the webhook outbox, behind
//! one trait so the SQLite backend (embedded, the default) and a PostgreSQL backend (several
//! instances) are interchangeable.
//!
//! **Why `Arc<dyn Ledger>` with boxed futures.** The backend is chosen from the config at
//! start, and the router, the service and the webhook task hold it without becoming generic.
//! Native `async fn` in traits is not object-safe, so methods return [`BoxFuture`]; one
//! allocation per call is noise next to a durable commit.
//!
//! **Contract every backend keeps.**
//! - [`Ledger::issue`] is one transaction: the idempotency check, the meter row (locked
//!   against concurrent issues for the same meter), the TID state, the mint, the token rows,
//!   the TID update, the audit entry and the outbox row commit together or not at all, and
//!   the future resolves only after the commit is durable.
//! - A refused mint or a conflict writes nothing.
//! - A unique-constraint hit is [`Conflict`], never a backend error.
//! - Audit entries form one global chain in commit order (`crate::audit`).
//! - The mint may be called more than once if the backend retries the transaction; only the
//!   committed call's tokens exist.
//!
//! **Notes for the PostgreSQL backend.** Lock the meter row (`SELECT … FOR UPDATE`) before
//! reading `tid_state`, so concurrent instances serialise per meter; keep the idempotency
//! `UNIQUE (api_key_id, idempotency_key)` (a race between instances becomes a unique hit:
//! re-read and replay); serialise audit appends on one chain-head row (`SELECT … FOR
//! UPDATE`), which also fixes the commit order the chain records; claim outbox rows with
//! `FOR UPDATE SKIP LOCKED`. The SQLite schema in `migrations/sqlite/` is the reference.

pub(crate) mod batch;
pub mod error;
pub mod mint;
pub mod model;
pub mod postgres;
pub mod sqlite;
pub mod token;

use std::future::Future;
use std::pin::Pin;

use hsm_core::MeterPan;
use token_codec::TokenDigits;

pub use error::{Conflict, LedgerError};
pub use mint::{Mint, MintError, Minted, TidAllocator};
pub use model::{
    Actor, ApiKeyRecord, CustomerRef, Delivery, MeterEvent, MeterEventRecord, MeterKey,
    MeterRecord, MeterStatus, NewApiKey, NewMeter, OutboxMessage,
};
pub use token::{
    IssueKind, IssueOutcome, IssueRecord, KeyIdentity, MintedToken, TokenKind, TokenRecord,
};

use serde_json::{Value, json};

use crate::audit::{ChainBreak, ChainHead, NewAuditEntry, StoredRow};
use crate::clock::{UnixSeconds, rfc3339};

/// A boxed, sendable future: what every [`Ledger`] method returns.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Result of a ledger call.
pub type LedgerResult<T> = Result<T, LedgerError>;

/// An issuing request, ready for the ledger.
pub struct IssueCommand {
    /// The meter.
    pub meter: MeterPan,
    /// Who asks.
    pub actor: Actor,
    /// The client's idempotency key (scoped to the actor's API key).
    pub idempotency_key: String,
    /// SHA-256 of the request (method, path, canonical body): same key and hash replays,
    /// same key and another hash is a conflict.
    pub request_sha256: [u8; 32],
    /// What is issued.
    pub kind: IssueKind,
    /// The issue time.
    pub at: UnixSeconds,
    /// Builds and encodes the tokens inside the transaction.
    pub mint: Mint,
}

impl core::fmt::Debug for IssueCommand {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IssueCommand")
            .field("meter", &self.meter)
            .field("kind", &self.kind)
            .field("at", &self.at)
            .finish_non_exhaustive()
    }
}

/// Replacing a broken meter: retire `old`, register `new` under the same customer
/// reference, both in one transaction.
#[derive(Debug, Clone)]
pub struct ReplaceMeter {
    /// The meter taken out.
    pub old: MeterPan,
    /// The new meter's PAN and key (its customer reference is the old meter's).
    pub new: NewMeter,
    /// Why (free text for the history).
    pub reason: String,
}

/// Options a backend applies to the events it records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxPolicy {
    /// Write webhook outbox rows at all (a webhook URL is configured).
    pub enabled: bool,
    /// Put the full digits in `token.issued` payloads (off: the last 4 only).
    pub include_digits: bool,
}

/// The ledger.
pub trait Ledger: Send + Sync + 'static {
    /// Registers a meter; [`Conflict::MeterExists`] if the PAN is taken.
    fn register_meter(
        &self,
        meter: NewMeter,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<MeterRecord>>;

    /// Replaces a meter (see [`ReplaceMeter`]); returns the new meter.
    fn replace_meter(
        &self,
        cmd: ReplaceMeter,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<MeterRecord>>;

    /// One meter by PAN.
    fn meter(&self, pan: MeterPan) -> BoxFuture<'_, LedgerResult<Option<MeterRecord>>>;

    /// Every meter (active or retired) of a customer, oldest first.
    fn meters_by_customer(
        &self,
        customer: CustomerRef,
    ) -> BoxFuture<'_, LedgerResult<Vec<MeterRecord>>>;

    /// Issues tokens (see the module contract).
    fn issue(&self, cmd: IssueCommand) -> BoxFuture<'_, LedgerResult<IssueOutcome>>;

    /// One issue with its tokens.
    fn issue_record(&self, id: i64) -> BoxFuture<'_, LedgerResult<Option<IssueRecord>>>;

    /// One token.
    fn token(&self, id: i64) -> BoxFuture<'_, LedgerResult<Option<TokenRecord>>>;

    /// A meter's tokens, newest first, ids below `before` if given.
    fn meter_tokens(
        &self,
        pan: MeterPan,
        before: Option<i64>,
        limit: u32,
    ) -> BoxFuture<'_, LedgerResult<Vec<TokenRecord>>>;

    /// Every token with these digits (normally at most one).
    fn tokens_by_digits(
        &self,
        digits: TokenDigits,
    ) -> BoxFuture<'_, LedgerResult<Vec<TokenRecord>>>;

    /// Records a meter event (audit entry and outbox row in the same transaction).
    fn record_event(
        &self,
        event: MeterEvent,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<MeterEventRecord>>;

    /// Stores an API key.
    fn create_api_key(
        &self,
        key: NewApiKey,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<ApiKeyRecord>>;

    /// An API key by its public id.
    fn api_key(&self, public_id: String) -> BoxFuture<'_, LedgerResult<Option<ApiKeyRecord>>>;

    /// Every API key.
    fn api_keys(&self) -> BoxFuture<'_, LedgerResult<Vec<ApiKeyRecord>>>;

    /// Revokes an API key by name; false if there is none.
    fn revoke_api_key(
        &self,
        name: String,
        actor: Actor,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<bool>>;

    /// Audit rows with `seq > after`, in order, at most `limit`.
    fn audit_rows(&self, after: i64, limit: u32) -> BoxFuture<'_, LedgerResult<Vec<StoredRow>>>;

    /// Verifies the whole audit chain; `Ok(Err(break))` names the first bad entry.
    fn verify_audit(&self) -> BoxFuture<'_, LedgerResult<Result<ChainHead, ChainBreak>>>;

    /// Claims up to `limit` due webhook messages for `lease` seconds.
    fn claim_webhooks(
        &self,
        now: UnixSeconds,
        limit: u32,
        lease: i64,
    ) -> BoxFuture<'_, LedgerResult<Vec<OutboxMessage>>>;

    /// Records how a delivery attempt ended.
    fn settle_webhook(
        &self,
        id: i64,
        outcome: Delivery,
        at: UnixSeconds,
    ) -> BoxFuture<'_, LedgerResult<()>>;

    /// Cheap liveness check of the backend.
    fn ping(&self) -> BoxFuture<'_, LedgerResult<()>>;
}

/// An audit entry, as both backends write them.
pub(crate) fn audit_entry(
    at: UnixSeconds,
    actor: &Actor,
    action: &str,
    subject: String,
    details: Value,
) -> NewAuditEntry {
    NewAuditEntry {
        at: rfc3339(at),
        actor: actor.name.clone(),
        action: action.to_owned(),
        subject,
        details,
    }
}

/// The audit entry of a new issue. It names tokens by id, kind and TID: never digits.
pub(crate) fn issue_audit_entry(issue: &IssueRecord, actor: &Actor) -> NewAuditEntry {
    let facts: Vec<Value> = issue
        .tokens
        .iter()
        .map(|t| json!({"id": t.id, "kind": t.token.kind.name(), "tid": t.token.tid.map(|(tid, _)| tid.get())}))
        .collect();
    audit_entry(
        issue.created_at,
        actor,
        &format!("token.{}", issue.kind.name()),
        issue.meter.to_string(),
        json!({"issue_id": issue.id, "tokens": facts, "summary": issue.summary}),
    )
}
