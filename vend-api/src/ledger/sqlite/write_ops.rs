//! The write operations, each run by the writer inside its own savepoint.

use rusqlite::params;
use serde_json::{Value, json};

use super::read;
use super::writer::WriteCtx;
use super::{backend, is_unique_violation};
use crate::clock::{UnixSeconds, rfc3339};
use crate::ledger::{
    Actor, ApiKeyRecord, Conflict, Delivery, LedgerError, LedgerResult, MeterEvent,
    MeterEventRecord, MeterRecord, NewApiKey, NewMeter, OutboxMessage, ReplaceMeter,
};
use crate::webhook::payload;

pub(super) use crate::ledger::audit_entry as entry;

/// Writes an outbox row; `body` is built only if webhooks are on (a payload is a few
/// microseconds of JSON that the writer would otherwise spend for nothing on every vend).
pub(super) fn outbox(
    ctx: &WriteCtx<'_>,
    event: &str,
    body: impl FnOnce() -> Value,
    at: UnixSeconds,
) -> LedgerResult<()> {
    if !ctx.policy.enabled {
        return Ok(());
    }
    let body = body();
    let mut stmt = ctx
        .conn
        .prepare_cached(
            "INSERT INTO webhook_outbox (event, payload, created_at, next_attempt_at) \
             VALUES (?1, ?2, ?3, ?3)",
        )
        .map_err(backend("write outbox"))?;
    stmt.execute(params![event, body.to_string(), at])
        .map_err(backend("write outbox"))?;
    Ok(())
}

fn insert_meter(
    ctx: &WriteCtx<'_>,
    m: &NewMeter,
    customer: &str,
    replaces: Option<i64>,
    actor: &Actor,
    at: UnixSeconds,
) -> LedgerResult<i64> {
    let mut stmt = ctx
        .conn
        .prepare_cached(
            "INSERT INTO meters (pan, customer_ref, sgc, ti, krn, kt, ea, dkga, base_date, status, \
             replaces_id, created_at, created_by) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, 'active', ?10, ?11, ?12)",
        )
        .map_err(backend("register meter"))?;
    let k = &m.key;
    let r = stmt.execute(params![
        m.pan.to_string(),
        customer,
        k.sgc.get(),
        k.ti.get(),
        k.krn.get(),
        k.kt.bits(),
        k.ea.code(),
        k.dkga.code(),
        k.base_date.year(),
        replaces,
        at,
        actor.name,
    ]);
    match r {
        Ok(_) => Ok(ctx.conn.last_insert_rowid()),
        Err(e) if is_unique_violation(&e) => Err(Conflict::MeterExists { pan: m.pan }.into()),
        Err(e) => Err(backend("register meter")(e)),
    }
}

fn key_details(m: &NewMeter) -> Value {
    let k = &m.key;
    json!({
        "sgc": k.sgc.to_string(), "ti": k.ti.to_string(), "krn": k.krn.get(), "kt": k.kt.bits(),
        "ea": k.ea.code(), "dkga": k.dkga.code(), "base_date": k.base_date.year(),
    })
}

fn reread(ctx: &WriteCtx<'_>, id: i64) -> LedgerResult<MeterRecord> {
    read::meter_by_id(ctx.conn, id)?.ok_or(LedgerError::Corrupt { what: "meter row" })
}

/// Registers a meter.
pub(super) fn register_meter(
    ctx: &mut WriteCtx<'_>,
    m: NewMeter,
    actor: Actor,
    at: UnixSeconds,
) -> LedgerResult<MeterRecord> {
    let id = insert_meter(ctx, &m, m.customer_ref.as_str(), None, &actor, at)?;
    let details = json!({"customer_ref": m.customer_ref.as_str(), "key": key_details(&m)});
    ctx.audit(entry(
        at,
        &actor,
        "meter.register",
        m.pan.to_string(),
        details,
    ))?;
    reread(ctx, id)
}

/// Retires a meter and registers its replacement under the same customer reference.
pub(super) fn replace_meter(
    ctx: &mut WriteCtx<'_>,
    cmd: ReplaceMeter,
    actor: Actor,
    at: UnixSeconds,
) -> LedgerResult<MeterRecord> {
    let old = read::meter_by_pan(ctx.conn, &cmd.old)?
        .ok_or(LedgerError::MeterNotFound { pan: cmd.old })?;
    old.ensure_active()?;
    let id = insert_meter(
        ctx,
        &cmd.new,
        old.customer_ref.as_str(),
        Some(old.id),
        &actor,
        at,
    )?;
    ctx.conn
        .prepare_cached(
            "UPDATE meters SET status = 'retired', replaced_by_id = ?1, retired_at = ?2, \
             retire_reason = ?3 WHERE id = ?4",
        )
        .and_then(|mut s| s.execute(params![id, at, cmd.reason, old.id]))
        .map_err(backend("retire meter"))?;
    let details = json!({
        "new_meter": cmd.new.pan.to_string(), "reason": cmd.reason,
        "customer_ref": old.customer_ref.as_str(), "key": key_details(&cmd.new),
    });
    ctx.audit(entry(
        at,
        &actor,
        "meter.replace",
        old.pan.to_string(),
        details,
    ))?;
    reread(ctx, id)
}

/// Records a meter event.
pub(super) fn record_event(
    ctx: &mut WriteCtx<'_>,
    ev: MeterEvent,
    actor: Actor,
    at: UnixSeconds,
) -> LedgerResult<MeterEventRecord> {
    let meter = read::meter_by_pan(ctx.conn, &ev.meter)?
        .ok_or(LedgerError::MeterNotFound { pan: ev.meter })?;
    ctx.conn
        .prepare_cached(
            "INSERT INTO meter_events (meter_id, kind, details, reported_at, received_at, actor) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                meter.id,
                ev.kind,
                ev.details.to_string(),
                ev.reported_at,
                at,
                actor.name
            ])
        })
        .map_err(backend("write meter event"))?;
    let rec = MeterEventRecord {
        id: ctx.conn.last_insert_rowid(),
        event: ev,
        received_at: at,
    };
    let details = json!({"event_id": rec.id, "kind": rec.event.kind, "details": rec.event.details, "reported_at": rfc3339(rec.event.reported_at)});
    ctx.audit(entry(
        at,
        &actor,
        &format!("meter.{}", rec.event.kind),
        meter.pan.to_string(),
        details,
    ))?;
    outbox(
        ctx,
        &format!("meter.{}", rec.event.kind),
        || payload::meter_event(&meter, &rec),
        at,
    )?;
    Ok(rec)
}

/// Stores an API key.
pub(super) fn create_api_key(
    ctx: &mut WriteCtx<'_>,
    k: NewApiKey,
    actor: Actor,
    at: UnixSeconds,
) -> LedgerResult<ApiKeyRecord> {
    let r = ctx
        .conn
        .prepare_cached(
            "INSERT INTO api_keys (public_id, name, scopes, secret_sha256, rate_per_sec, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut s| s.execute(params![k.public_id, k.name, k.scopes.join(","), k.secret_sha256.as_slice(), k.rate_per_sec, at]));
    match r {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => {
            return Err(Conflict::ApiKeyNameTaken { name: k.name }.into());
        }
        Err(e) => return Err(backend("create api key")(e)),
    }
    let details = json!({"name": k.name, "public_id": k.public_id, "scopes": k.scopes, "rate_per_sec": k.rate_per_sec});
    ctx.audit(entry(at, &actor, "apikey.create", k.name.clone(), details))?;
    read::api_key(ctx.conn, &k.public_id)?.ok_or(LedgerError::Corrupt {
        what: "api key row",
    })
}

/// Revokes an API key by name.
pub(super) fn revoke_api_key(
    ctx: &mut WriteCtx<'_>,
    name: String,
    actor: Actor,
    at: UnixSeconds,
) -> LedgerResult<bool> {
    let n = ctx
        .conn
        .prepare_cached(
            "UPDATE api_keys SET revoked_at = ?1 WHERE name = ?2 AND revoked_at IS NULL",
        )
        .and_then(|mut s| s.execute(params![at, name]))
        .map_err(backend("revoke api key"))?;
    if n == 0 {
        return Ok(false);
    }
    ctx.audit(entry(at, &actor, "apikey.revoke", name, json!({})))?;
    Ok(true)
}

/// Claims due outbox messages.
pub(super) fn claim_webhooks(
    ctx: &mut WriteCtx<'_>,
    now: UnixSeconds,
    limit: u32,
    lease: i64,
) -> LedgerResult<Vec<OutboxMessage>> {
    let mut stmt = ctx
        .conn
        .prepare_cached(
            "UPDATE webhook_outbox SET lease_until = ?1 + ?3 WHERE id IN ( \
               SELECT id FROM webhook_outbox WHERE delivered_at IS NULL AND failed_at IS NULL \
               AND next_attempt_at <= ?1 AND (lease_until IS NULL OR lease_until <= ?1) \
               ORDER BY id LIMIT ?2) \
             RETURNING id, event, payload, attempts",
        )
        .map_err(backend("claim webhooks"))?;
    let rows = stmt
        .query_map(params![now, limit, lease], |r| {
            Ok(OutboxMessage {
                id: r.get(0)?,
                event: r.get(1)?,
                payload: r.get(2)?,
                attempts: r.get(3)?,
            })
        })
        .map_err(backend("claim webhooks"))?;
    let mut out = rows
        .collect::<Result<Vec<_>, _>>()
        .map_err(backend("claim webhooks"))?;
    out.sort_by_key(|m| m.id);
    Ok(out)
}

/// Records a delivery attempt's end.
pub(super) fn settle_webhook(
    ctx: &mut WriteCtx<'_>,
    id: i64,
    outcome: Delivery,
    at: UnixSeconds,
) -> LedgerResult<()> {
    let (sql, args): (&str, Vec<Box<dyn rusqlite::ToSql>>) = match outcome {
        Delivery::Delivered => (
            "UPDATE webhook_outbox SET delivered_at = ?1, attempts = attempts + 1, lease_until = NULL WHERE id = ?2",
            vec![Box::new(at), Box::new(id)],
        ),
        Delivery::Retry { at: next, error } => (
            "UPDATE webhook_outbox SET next_attempt_at = ?1, attempts = attempts + 1, lease_until = NULL, \
             last_error = ?3 WHERE id = ?2",
            vec![Box::new(next), Box::new(id), Box::new(error)],
        ),
        Delivery::GaveUp { error } => (
            "UPDATE webhook_outbox SET failed_at = ?1, attempts = attempts + 1, lease_until = NULL, \
             last_error = ?3 WHERE id = ?2",
            vec![Box::new(at), Box::new(id), Box::new(error)],
        ),
    };
    ctx.conn
        .prepare_cached(sql)
        .and_then(|mut s| s.execute(rusqlite::params_from_iter(args.iter())))
        .map_err(backend("settle webhook"))?;
    Ok(())
}
