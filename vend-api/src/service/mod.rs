//! `VendService`: what the API does, in domain terms. Handlers parse and map; this layer
//! checks, asks the issuer and the ledger, and counts. No SQL here, and no key is touched
//! except through [`hsm_core::Issuer`].

pub mod amount;
pub mod management;
mod meters;
pub mod mint;
pub mod order;
pub mod summary;
pub mod verify;

use std::sync::Arc;

use hsm_core::{Issuer, MeterPan};
use token_codec::TokenDigits;
use tokio::sync::Notify;
use tracing::instrument;

use crate::apikey::{Scope, Scopes};
use crate::clock::{Clock, RndSource, UnixSeconds};
use crate::http::error::ApiError;
use crate::ledger::{
    Actor, IssueCommand, IssueKind, IssueOutcome, IssueRecord, Ledger, TokenRecord,
};
use crate::metrics::Metrics;
use crate::redact::masked_digits;
use management::{ManagementOrder, MeterTestOrder};
use mint::{KeyChangeTarget, MintKit};
use order::CreditOrder;
use verify::VerifyReport;

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// Who (audit actor, idempotency scope).
    pub actor: Actor,
    /// What the key may do.
    pub scopes: Scopes,
}

/// An issuing request's idempotency: the client's key and the request's hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The `Idempotency-Key` header.
    pub key: String,
    /// SHA-256 over method, path and canonical body.
    pub request_sha256: [u8; 32],
}

/// A low-credit report from a meter head-end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LowCredit {
    /// Remaining credit as the meter reports it (decimal text).
    pub remaining: Option<String>,
    /// Unit of `remaining`.
    pub unit: Option<String>,
    /// When the meter reported it.
    pub reported_at: UnixSeconds,
}

/// The vending service.
#[derive(Clone)]
pub struct VendService {
    ledger: Arc<dyn Ledger>,
    kit: MintKit,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    webhook_wake: Option<Arc<Notify>>,
}

impl std::fmt::Debug for VendService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendService").finish_non_exhaustive()
    }
}

impl VendService {
    /// A service over a ledger and an issuer.
    pub fn new(
        ledger: Arc<dyn Ledger>,
        issuer: Issuer,
        clock: Arc<dyn Clock>,
        rnd: Arc<dyn RndSource>,
        metrics: Metrics,
        webhook_wake: Option<Arc<Notify>>,
    ) -> Self {
        Self {
            ledger,
            kit: MintKit { issuer, rnd },
            clock,
            metrics,
            webhook_wake,
        }
    }

    /// The ledger (for the webhook task and health checks).
    pub fn ledger(&self) -> &Arc<dyn Ledger> {
        &self.ledger
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    async fn issue(
        &self,
        caller: &Caller,
        idem: Idempotency,
        pan: MeterPan,
        kind: IssueKind,
        mint: crate::ledger::Mint,
    ) -> Result<IssueOutcome, ApiError> {
        let cmd = IssueCommand {
            meter: pan,
            actor: caller.actor.clone(),
            idempotency_key: idem.key,
            request_sha256: idem.request_sha256,
            kind,
            at: self.clock.now(),
            mint,
        };
        let out = self.ledger.issue(cmd).await?;
        if out.replayed {
            self.metrics.idempotent_replays.inc();
            tracing::info!(issue = out.issue.id, "idempotent replay");
        } else {
            for t in &out.issue.tokens {
                self.metrics
                    .tokens_issued
                    .with_label_values(&[t.token.kind.name()])
                    .inc();
            }
            let masked: Vec<String> = out
                .issue
                .tokens
                .iter()
                .map(|t| masked_digits(&t.token.digits))
                .collect();
            let tids: Vec<Option<u32>> = out
                .issue
                .tokens
                .iter()
                .map(|t| t.token.tid.map(|(t, _)| t.get()))
                .collect();
            tracing::info!(issue = out.issue.id, kind = kind.name(), ?tids, digits = ?masked, "tokens issued");
            if let Some(w) = &self.webhook_wake {
                w.notify_one();
            }
        }
        Ok(out)
    }

    /// Issues a credit token. A currency debit needs the manage scope.
    #[instrument(skip_all, fields(meter = %pan))]
    pub async fn credit(
        &self,
        caller: &Caller,
        idem: Idempotency,
        pan: MeterPan,
        order: CreditOrder,
    ) -> Result<IssueOutcome, ApiError> {
        if order.amount.is_negative() && !caller.scopes.contains(Scope::Manage) {
            return Err(ApiError::Forbidden {
                needed: Scope::Manage,
                what: "issue currency debits",
            });
        }
        let prepared = order.prepare()?;
        self.issue(
            caller,
            idem,
            pan,
            IssueKind::Credit,
            mint::credit(self.kit.clone(), prepared),
        )
        .await
    }

    /// Issues a management token.
    #[instrument(skip_all, fields(meter = %pan))]
    pub async fn management(
        &self,
        caller: &Caller,
        idem: Idempotency,
        pan: MeterPan,
        order: ManagementOrder,
    ) -> Result<IssueOutcome, ApiError> {
        let (f, s) = order.prepare()?;
        self.issue(
            caller,
            idem,
            pan,
            IssueKind::Management,
            mint::management(self.kit.clone(), f, s),
        )
        .await
    }

    /// Issues an initiate-meter-test token.
    #[instrument(skip_all, fields(meter = %pan))]
    pub async fn meter_test(
        &self,
        caller: &Caller,
        idem: Idempotency,
        pan: MeterPan,
        order: MeterTestOrder,
    ) -> Result<IssueOutcome, ApiError> {
        let (t, s) = order.prepare()?;
        self.issue(
            caller,
            idem,
            pan,
            IssueKind::Engineering,
            mint::meter_test(self.kit.clone(), t, s),
        )
        .await
    }

    /// Issues a key change set, optionally with a credit token under the new key, atomically.
    #[instrument(skip_all, fields(meter = %pan))]
    pub async fn key_change(
        &self,
        caller: &Caller,
        idem: Idempotency,
        pan: MeterPan,
        to: KeyChangeTarget,
        credit: Option<CreditOrder>,
    ) -> Result<IssueOutcome, ApiError> {
        let credit = match credit {
            Some(c) if c.amount.is_negative() && !caller.scopes.contains(Scope::Manage) => {
                return Err(ApiError::Forbidden {
                    needed: Scope::Manage,
                    what: "issue currency debits",
                });
            }
            Some(c) => Some(c.prepare().map_err(|e| nest(e, "credit"))?),
            None => None,
        };
        self.issue(
            caller,
            idem,
            pan,
            IssueKind::KeyChange,
            mint::key_change(self.kit.clone(), to, credit),
        )
        .await
    }

    /// One token (re-issue: the stored digits, never a new TID).
    pub async fn token(&self, id: i64) -> Result<TokenRecord, ApiError> {
        self.ledger
            .token(id)
            .await?
            .ok_or_else(|| ApiError::NotFound {
                code: "unknown_token",
                message: format!("no token {id}"),
            })
    }

    /// One issue with its tokens.
    pub async fn issue_record(&self, id: i64) -> Result<IssueRecord, ApiError> {
        self.ledger
            .issue_record(id)
            .await?
            .ok_or_else(|| ApiError::NotFound {
                code: "unknown_issue",
                message: format!("no issue {id}"),
            })
    }

    /// A meter's tokens, newest first.
    pub async fn meter_tokens(
        &self,
        pan: MeterPan,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<TokenRecord>, ApiError> {
        self.meter(pan).await?;
        Ok(self.ledger.meter_tokens(pan, before, limit).await?)
    }

    /// Decodes digits for a meter and says whether we issued them.
    #[instrument(skip_all, fields(meter = %pan))]
    pub async fn verify(&self, pan: MeterPan, text: &str) -> Result<VerifyReport, ApiError> {
        let meter = self.meter(pan).await?;
        let digits: Result<TokenDigits, _> = text.parse();
        let matches = match &digits {
            Ok(d) => self.ledger.tokens_by_digits(*d).await?,
            Err(_) => Vec::new(),
        };
        let report = verify::verify(&self.kit.issuer, &meter, digits, &matches)?;
        tracing::info!(accepted = report.accepted, category = ?report.category, issued = report.ledger.issued_to_this_meter, "token verified");
        Ok(report)
    }
}

/// Prefixes a 422's field with the object it sits in (`amount` → `credit.amount`).
fn nest(e: ApiError, parent: &str) -> ApiError {
    match e {
        ApiError::Invalid {
            code,
            field,
            message,
        } => ApiError::Invalid {
            code,
            field: Some(field.map_or_else(|| parent.to_owned(), |f| format!("{parent}.{f}"))),
            message,
        },
        other => other,
    }
}
