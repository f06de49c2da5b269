//! The issue operation: one job from meter lock to outbox row (the contract of
//! [`crate::ledger::Ledger::issue`]).
//!
//! Round trips: lock the meter; read the idempotency key and the TID state (pipelined);
//! mint locally; insert the issue and its tokens in one statement, pipelined with the TID
//! state and key updates; the outbox row. The audit entry is queued for the batch's end.

use hsm_core::{BaseDate, MeterPan};
use token_codec::Tid;
use tokio_postgres::types::ToSql;

use super::read;
use super::write_ops::outbox;
use super::writer::{Operation, WriteCtx};
use super::{Conn, backend, unique_violation};
use crate::clock::utc_minute;
use crate::ledger::{
    BoxFuture, Conflict, IssueCommand, IssueOutcome, IssueRecord, LedgerError, LedgerResult,
    MeterKey, TidAllocator, TokenRecord, issue_audit_entry,
};
use crate::webhook::payload;

/// The idempotency constraint: a hit on it is a race with another instance, retried.
pub(super) const IDEMPOTENCY_CONSTRAINT: &str = "issues_idempotency_unique";

/// An issue as a writer job.
pub(super) struct IssueOp(pub(super) IssueCommand);

impl Operation for IssueOp {
    type Output = IssueOutcome;

    fn lock_key(&self) -> Option<MeterPan> {
        Some(self.0.meter)
    }

    fn run<'a>(
        &'a mut self,
        ctx: &'a mut WriteCtx<'_>,
    ) -> BoxFuture<'a, LedgerResult<IssueOutcome>> {
        Box::pin(issue(ctx, &mut self.0))
    }
}

/// Issues tokens: see the contract on [`crate::ledger::Ledger::issue`].
async fn issue(ctx: &mut WriteCtx<'_>, cmd: &mut IssueCommand) -> LedgerResult<IssueOutcome> {
    let c = ctx.conn;
    let (lock, prev, tids) = (
        c.prepare_cached(&read::meter_lock_sql())
            .await
            .map_err(backend("lock meter"))?,
        c.prepare_cached(PREVIOUS)
            .await
            .map_err(backend("read idempotency key"))?,
        c.prepare_cached(LAST_TIDS)
            .await
            .map_err(backend("read tid state"))?,
    );
    // One round trip, executed in this order: the meter lock, then the idempotency key and
    // the TID state. Each statement takes its own snapshot (READ COMMITTED) when it starts,
    // after the lock was granted, so a request that raced this one on another instance for
    // the same meter (an idempotent retry included) has committed or rolled back, and its
    // outcome is seen. `biased` sends them in order; they are prepared already.
    let pan = cmd.meter.to_string();
    let by_pan: [&(dyn ToSql + Sync); 1] = [&pan];
    let by_key: [&(dyn ToSql + Sync); 2] = [&cmd.actor.api_key_id, &cmd.idempotency_key];
    let (m, p, t) = tokio::join!(
        biased;
        c.query(&lock, &by_pan),
        c.query_opt(&prev, &by_key),
        c.query(&tids, &by_pan),
    );
    let meter = m
        .map_err(backend("lock meter"))?
        .first()
        .map(read::meter_row)
        .transpose()?
        .ok_or(LedgerError::MeterNotFound { pan: cmd.meter })?;
    let prev: Option<(i64, Vec<u8>)> = p
        .map_err(backend("read idempotency key"))?
        .map(|r| {
            Ok::<_, LedgerError>((
                read::col(&r, 0, "issue row")?,
                read::col(&r, 1, "issue row")?,
            ))
        })
        .transpose()?;
    let last = t
        .map_err(backend("read tid state"))?
        .iter()
        .map(|r| {
            Ok((
                read::base_date(read::col(r, 0, "tid state")?)?,
                read::tid(read::col(r, 1, "tid state")?)?,
            ))
        })
        .collect::<LedgerResult<Vec<(BaseDate, Tid)>>>()?;
    if let Some((id, hash)) = prev {
        if hash.as_slice() != cmd.request_sha256.as_slice() {
            return Err(Conflict::IdempotencyKeyReused.into());
        }
        let issue = read::issue(c, id)
            .await?
            .ok_or(LedgerError::Corrupt { what: "issue row" })?;
        return Ok(IssueOutcome {
            issue,
            replayed: true,
        });
    }
    meter.ensure_active()?;
    let mut tids = TidAllocator::new(utc_minute(cmd.at), last);
    let minted = (cmd.mint)(&meter, &mut tids)?;

    let summary = minted.summary.to_string();
    let n = minted.tokens.len();
    let mut cols = TokenColumns::with_capacity(n);
    for (position, t) in minted.tokens.iter().enumerate() {
        cols.push(i64::try_from(position).unwrap_or(i64::MAX), t);
    }
    let row = IssueRow {
        kind: cmd.kind.name(),
        api_key_id: cmd.actor.api_key_id,
        actor: &cmd.actor.name,
        idempotency_key: &cmd.idempotency_key,
        request_sha256: &cmd.request_sha256,
        summary: &summary,
        at: cmd.at,
    };
    let (bases, lasts): (Vec<i64>, Vec<i64>) = tids
        .updates()
        .map(|(b, t)| (i64::from(b.year()), i64::from(t.get())))
        .unzip();
    let (ids, stored, moved) = tokio::join!(
        biased;
        insert_issue(c, meter.id, &row, &cols),
        store_tids(c, meter.id, &bases, &lasts),
        update_key(c, meter.id, minted.new_key.as_ref(), cmd.at),
    );
    let (issue_id, token_ids) = ids?;
    stored?;
    moved?;
    if token_ids.len() != n {
        return Err(LedgerError::Corrupt { what: "token rows" });
    }
    let tokens: Vec<TokenRecord> = minted
        .tokens
        .into_iter()
        .zip(token_ids)
        .zip(0u32..)
        .map(|((token, id), position)| TokenRecord {
            id,
            issue_id,
            meter: meter.pan,
            position,
            token,
            created_at: cmd.at,
        })
        .collect();
    let issue = IssueRecord {
        id: issue_id,
        meter: meter.pan,
        kind: cmd.kind,
        actor: cmd.actor.name.clone(),
        summary: minted.summary,
        created_at: cmd.at,
        tokens,
    };
    ctx.audit(issue_audit_entry(&issue, &cmd.actor));
    let body = payload::token_issued(&meter, &issue, ctx.policy.include_digits);
    outbox(ctx, "token.issued", &body, cmd.at).await?;
    Ok(IssueOutcome {
        issue,
        replayed: false,
    })
}

/// The issue already stored under this API key and idempotency key, with its request hash.
const PREVIOUS: &str =
    "SELECT id, request_sha256 FROM issues WHERE api_key_id = $1 AND idempotency_key = $2";

/// The meter's last TID per base date (by PAN, so it can share the lock's round trip).
const LAST_TIDS: &str = "SELECT t.base_date, t.last_tid FROM tid_state t \
     JOIN meters m ON m.id = t.meter_id WHERE m.pan = $1";

/// The issue row's values (borrowed apart from the command, whose mint is not `Sync`).
struct IssueRow<'a> {
    kind: &'static str,
    api_key_id: i64,
    actor: &'a str,
    idempotency_key: &'a str,
    request_sha256: &'a [u8; 32],
    summary: &'a str,
    at: i64,
}

/// The token rows as column arrays, for one `unnest` insert.
struct TokenColumns {
    position: Vec<i64>,
    kind: Vec<&'static str>,
    class: Vec<i64>,
    subclass: Vec<i64>,
    tid: Vec<Option<i64>>,
    base_date: Vec<Option<i64>>,
    digits: Vec<String>,
    sgc: Vec<i64>,
    ti: Vec<i64>,
    krn: Vec<i64>,
    kt: Vec<i64>,
}

impl TokenColumns {
    fn with_capacity(n: usize) -> Self {
        Self {
            position: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            class: Vec::with_capacity(n),
            subclass: Vec::with_capacity(n),
            tid: Vec::with_capacity(n),
            base_date: Vec::with_capacity(n),
            digits: Vec::with_capacity(n),
            sgc: Vec::with_capacity(n),
            ti: Vec::with_capacity(n),
            krn: Vec::with_capacity(n),
            kt: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, position: i64, t: &crate::ledger::MintedToken) {
        self.position.push(position);
        self.kind.push(t.kind.name());
        self.class.push(i64::from(t.class));
        self.subclass.push(i64::from(t.subclass));
        self.tid.push(t.tid.map(|(tid, _)| i64::from(tid.get())));
        self.base_date
            .push(t.tid.map(|(_, bd)| i64::from(bd.year())));
        self.digits.push(t.digits.as_str().to_owned());
        self.sgc.push(i64::from(t.key.sgc.get()));
        self.ti.push(i64::from(t.key.ti.get()));
        self.krn.push(i64::from(t.key.krn.get()));
        self.kt.push(i64::from(t.key.kt.bits()));
    }
}

/// Inserts the issue and its tokens in one statement; returns the issue id and the token
/// ids in position order. A TID already used by this meter (which the allocator and the
/// meter lock rule out) is a typed conflict, never a silent duplicate.
async fn insert_issue(
    c: &Conn,
    meter_id: i64,
    i: &IssueRow<'_>,
    t: &TokenColumns,
) -> LedgerResult<(i64, Vec<i64>)> {
    let op = "write issue";
    let stmt = c
        .prepare_cached(
            "WITH i AS ( \
               INSERT INTO issues (meter_id, kind, api_key_id, actor, idempotency_key, \
                 request_sha256, summary, created_at) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id \
             ), t AS ( \
               INSERT INTO tokens (issue_id, meter_id, position, kind, class, subclass, tid, \
                 base_date, digits, sgc, ti, krn, kt, created_at) \
               SELECT i.id, $1, u.position, u.kind, u.class, u.subclass, u.tid, u.base_date, \
                 u.digits, u.sgc, u.ti, u.krn, u.kt, $8 \
               FROM i, unnest($9::bigint[], $10::text[], $11::bigint[], $12::bigint[], \
                 $13::bigint[], $14::bigint[], $15::text[], $16::bigint[], $17::bigint[], \
                 $18::bigint[], $19::bigint[]) \
                 AS u(position, kind, class, subclass, tid, base_date, digits, sgc, ti, krn, kt) \
               ORDER BY u.position \
               RETURNING id, position \
             ) \
             SELECT i.id, t.id, t.position FROM i LEFT JOIN t ON true ORDER BY t.position",
        )
        .await
        .map_err(backend(op))?;
    let rows = c
        .query(
            &stmt,
            &[
                &meter_id,
                &i.kind,
                &i.api_key_id,
                &i.actor,
                &i.idempotency_key,
                &i.request_sha256.as_slice(),
                &i.summary,
                &i.at,
                &t.position,
                &t.kind,
                &t.class,
                &t.subclass,
                &t.tid,
                &t.base_date,
                &t.digits,
                &t.sgc,
                &t.ti,
                &t.krn,
                &t.kt,
            ],
        )
        .await;
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            return Err(match unique_violation(&e) {
                // Raced another instance on the idempotency key: retried (see the module
                // docs), so the error stays a backend error the writer recognises.
                Some(IDEMPOTENCY_CONSTRAINT) | None => backend(op)(e),
                Some(constraint) => Conflict::Unique {
                    constraint: constraint.to_owned(),
                }
                .into(),
            });
        }
    };
    let mut issue_id = None;
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        issue_id = Some(read::col::<i64>(r, 0, "issue row")?);
        if let Some(id) = read::col::<Option<i64>>(r, 1, "token row")? {
            ids.push(id);
        }
    }
    let issue_id = issue_id.ok_or(LedgerError::Corrupt { what: "issue row" })?;
    Ok((issue_id, ids))
}

/// Records the last TIDs the allocator handed out.
async fn store_tids(c: &Conn, meter_id: i64, bases: &[i64], lasts: &[i64]) -> LedgerResult<()> {
    if bases.is_empty() {
        return Ok(());
    }
    let op = "write tid state";
    let stmt = c
        .prepare_cached(
            "INSERT INTO tid_state (meter_id, base_date, last_tid) \
             SELECT $1, u.b, u.t FROM unnest($2::bigint[], $3::bigint[]) AS u(b, t) \
             ON CONFLICT (meter_id, base_date) DO UPDATE SET last_tid = excluded.last_tid",
        )
        .await
        .map_err(backend(op))?;
    c.execute(&stmt, &[&meter_id, &bases, &lasts])
        .await
        .map_err(backend(op))?;
    Ok(())
}

/// Moves the meter to its new key (a key change set was issued).
async fn update_key(c: &Conn, meter_id: i64, key: Option<&MeterKey>, at: i64) -> LedgerResult<()> {
    let Some(k) = key else {
        return Ok(());
    };
    let op = "update meter key";
    let stmt = c
        .prepare_cached(
            "UPDATE meters SET sgc = $1, ti = $2, krn = $3, kt = $4, ea = $5, dkga = $6, \
             base_date = $7, key_changed_at = $8 WHERE id = $9",
        )
        .await
        .map_err(backend(op))?;
    c.execute(
        &stmt,
        &[
            &i64::from(k.sgc.get()),
            &i64::from(k.ti.get()),
            &i64::from(k.krn.get()),
            &i64::from(k.kt.bits()),
            &i64::from(k.ea.code()),
            &i64::from(k.dkga.code()),
            &i64::from(k.base_date.year()),
            &at,
            &meter_id,
        ],
    )
    .await
    .map_err(backend(op))?;
    Ok(())
}
