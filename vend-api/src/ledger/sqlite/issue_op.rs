//! The issue operation: one transaction from idempotency check to outbox row (the contract
//! of [`crate::ledger::Ledger::issue`]).

use hsm_core::BaseDate;
use rusqlite::{Connection, OptionalExtension, params};
use token_codec::Tid;

use super::read;
use super::write_ops::outbox;
use super::writer::WriteCtx;
use super::{backend, is_unique_violation};
use crate::clock::{UnixSeconds, utc_minute};
use crate::ledger::{
    Conflict, IssueCommand, IssueOutcome, IssueRecord, LedgerError, LedgerResult, MeterKey,
    MeterRecord, MintedToken, TidAllocator, TokenRecord, issue_audit_entry,
};
use crate::webhook::payload;

/// Issues tokens: see the contract on [`crate::ledger::Ledger::issue`].
pub(super) fn issue(ctx: &mut WriteCtx<'_>, mut cmd: IssueCommand) -> LedgerResult<IssueOutcome> {
    let conn = ctx.conn;
    if let Some((id, hash)) = previous(conn, &cmd)? {
        if hash.as_slice() != cmd.request_sha256.as_slice() {
            return Err(Conflict::IdempotencyKeyReused.into());
        }
        let issue = read::issue(conn, id)?.ok_or(LedgerError::Corrupt { what: "issue row" })?;
        return Ok(IssueOutcome {
            issue,
            replayed: true,
        });
    }
    let meter = read::meter_by_pan(conn, &cmd.meter)?
        .ok_or(LedgerError::MeterNotFound { pan: cmd.meter })?;
    meter.ensure_active()?;
    let mut tids = TidAllocator::new(utc_minute(cmd.at), last_tids(conn, meter.id)?);
    let minted = (cmd.mint)(&meter, &mut tids)?;

    conn.prepare_cached(
        "INSERT INTO issues (meter_id, kind, api_key_id, actor, idempotency_key, request_sha256, \
         summary, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            meter.id,
            cmd.kind.name(),
            cmd.actor.api_key_id,
            cmd.actor.name,
            cmd.idempotency_key,
            cmd.request_sha256.as_slice(),
            minted.summary.to_string(),
            cmd.at,
        ])
    })
    .map_err(backend("write issue"))?;
    let issue_id = conn.last_insert_rowid();
    let tokens = insert_tokens(conn, &meter, issue_id, minted.tokens, cmd.at)?;
    store_tids(conn, meter.id, tids.updates())?;
    if let Some(k) = minted.new_key {
        update_key(conn, meter.id, &k, cmd.at)?;
    }

    let issue = IssueRecord {
        id: issue_id,
        meter: meter.pan,
        kind: cmd.kind,
        actor: cmd.actor.name.clone(),
        summary: minted.summary,
        created_at: cmd.at,
        tokens,
    };
    ctx.audit(issue_audit_entry(&issue, &cmd.actor))?;
    let digits = ctx.policy.include_digits;
    outbox(
        ctx,
        "token.issued",
        || payload::token_issued(&meter, &issue, digits),
        cmd.at,
    )?;
    Ok(IssueOutcome {
        issue,
        replayed: false,
    })
}

/// The issue already stored under this API key and idempotency key, with its request hash.
fn previous(conn: &Connection, cmd: &IssueCommand) -> LedgerResult<Option<(i64, Vec<u8>)>> {
    conn.prepare_cached(
        "SELECT id, request_sha256 FROM issues WHERE api_key_id = ?1 AND idempotency_key = ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![cmd.actor.api_key_id, cmd.idempotency_key], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
    })
    .map_err(backend("read idempotency key"))
}

/// The meter's last TID per base date.
fn last_tids(conn: &Connection, meter_id: i64) -> LedgerResult<Vec<(BaseDate, Tid)>> {
    let mut stmt = conn
        .prepare_cached("SELECT base_date, last_tid FROM tid_state WHERE meter_id = ?1")
        .map_err(backend("read tid state"))?;
    let rows = stmt
        .query_map(params![meter_id], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
        })
        .map_err(backend("read tid state"))?;
    let mut out = Vec::new();
    for row in rows {
        let (bd, tid) = row.map_err(backend("read tid state"))?;
        let bd = u16::try_from(bd)
            .ok()
            .and_then(|y| BaseDate::from_year(y).ok());
        let tid = u32::try_from(tid).ok().and_then(|t| Tid::new(t).ok());
        match (bd, tid) {
            (Some(bd), Some(tid)) => out.push((bd, tid)),
            _ => return Err(LedgerError::Corrupt { what: "tid state" }),
        }
    }
    Ok(out)
}

/// Inserts the tokens in entry order; a TID already used by this meter (which the allocator
/// rules out) would be a typed conflict, never a silent duplicate.
fn insert_tokens(
    conn: &Connection,
    meter: &MeterRecord,
    issue_id: i64,
    minted: Vec<MintedToken>,
    at: UnixSeconds,
) -> LedgerResult<Vec<TokenRecord>> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO tokens (issue_id, meter_id, position, kind, class, subclass, tid, \
             base_date, digits, sgc, ti, krn, kt, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
        )
        .map_err(backend("write token"))?;
    let mut out = Vec::with_capacity(minted.len());
    for (position, t) in minted.into_iter().enumerate() {
        let position = u32::try_from(position).map_err(|_| LedgerError::Corrupt {
            what: "token position",
        })?;
        let r = stmt.execute(params![
            issue_id,
            meter.id,
            position,
            t.kind.name(),
            t.class,
            t.subclass,
            t.tid.map(|(tid, _)| tid.get()),
            t.tid.map(|(_, bd)| bd.year()),
            t.digits.as_str(),
            t.key.sgc.get(),
            t.key.ti.get(),
            t.key.krn.get(),
            t.key.kt.bits(),
            at,
        ]);
        match r {
            Ok(_) => {}
            Err(e) if is_unique_violation(&e) => {
                let constraint = "tokens(meter_id, base_date, tid)".into();
                return Err(Conflict::Unique { constraint }.into());
            }
            Err(e) => return Err(backend("write token")(e)),
        }
        let id = conn.last_insert_rowid();
        out.push(TokenRecord {
            id,
            issue_id,
            meter: meter.pan,
            position,
            token: t,
            created_at: at,
        });
    }
    Ok(out)
}

/// Records the last TIDs the allocator handed out.
fn store_tids(
    conn: &Connection,
    meter_id: i64,
    updates: impl Iterator<Item = (BaseDate, Tid)>,
) -> LedgerResult<()> {
    let mut stmt = conn
        .prepare_cached(
            "INSERT INTO tid_state (meter_id, base_date, last_tid) VALUES (?1, ?2, ?3) \
             ON CONFLICT (meter_id, base_date) DO UPDATE SET last_tid = excluded.last_tid",
        )
        .map_err(backend("write tid state"))?;
    for (bd, tid) in updates {
        stmt.execute(params![meter_id, bd.year(), tid.get()])
            .map_err(backend("write tid state"))?;
    }
    Ok(())
}

/// Moves the meter to its new key (a key change set was issued).
fn update_key(conn: &Connection, meter_id: i64, k: &MeterKey, at: UnixSeconds) -> LedgerResult<()> {
    conn.prepare_cached(
        "UPDATE meters SET sgc = ?1, ti = ?2, krn = ?3, kt = ?4, ea = ?5, dkga = ?6, \
         base_date = ?7, key_changed_at = ?8 WHERE id = ?9",
    )
    .and_then(|mut s| {
        s.execute(params![
            k.sgc.get(),
            k.ti.get(),
            k.krn.get(),
            k.kt.bits(),
            k.ea.code(),
            k.dkga.code(),
            k.base_date.year(),
            at,
            meter_id
        ])
    })
    .map_err(backend("update meter key"))?;
    Ok(())
}
