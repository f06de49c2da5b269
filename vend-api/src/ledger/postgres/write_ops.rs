//! The other write operations: those that append to the audit chain run as writer jobs;
//! webhook claims and settlements run on a pooled connection in their own statement.

use hsm_core::MeterPan;
use serde_json::{Value, json};
use tokio_postgres::types::ToSql;

use super::writer::{Operation, WriteCtx};
use super::{Conn, backend, read, unique_violation};
use crate::clock::{UnixSeconds, rfc3339};
use crate::ledger::{
    Actor, ApiKeyRecord, BoxFuture, Conflict, Delivery, LedgerError, LedgerResult, MeterEvent,
    MeterEventRecord, MeterRecord, NewApiKey, NewMeter, OutboxMessage, ReplaceMeter,
};
use crate::webhook::payload;

pub(super) use crate::ledger::audit_entry as entry;

/// Writes an outbox row in the job's transaction (if webhooks are configured).
pub(super) async fn outbox(
    ctx: &WriteCtx<'_>,
    event: &str,
    body: &Value,
    at: UnixSeconds,
) -> LedgerResult<()> {
    if !ctx.policy.enabled {
        return Ok(());
    }
    let op = "write outbox";
    let stmt = ctx
        .conn
        .prepare_cached(
            "INSERT INTO webhook_outbox (event, payload, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $3)",
        )
        .await
        .map_err(backend(op))?;
    ctx.conn
        .execute(&stmt, &[&event, &body.to_string(), &at])
        .await
        .map_err(backend(op))?;
    Ok(())
}

async fn insert_meter(
    ctx: &WriteCtx<'_>,
    m: &NewMeter,
    customer: &str,
    replaces: Option<i64>,
    actor: &Actor,
    at: UnixSeconds,
) -> LedgerResult<i64> {
    let op = "register meter";
    let stmt = ctx
        .conn
        .prepare_cached(
            "INSERT INTO meters (pan, customer_ref, sgc, ti, krn, kt, ea, dkga, base_date, status, \
             replaces_id, created_at, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $11, $12) RETURNING id",
        )
        .await
        .map_err(backend(op))?;
    let k = &m.key;
    let r = ctx
        .conn
        .query_one(
            &stmt,
            &[
                &m.pan.to_string(),
                &customer,
                &i64::from(k.sgc.get()),
                &i64::from(k.ti.get()),
                &i64::from(k.krn.get()),
                &i64::from(k.kt.bits()),
                &i64::from(k.ea.code()),
                &i64::from(k.dkga.code()),
                &i64::from(k.base_date.year()),
                &replaces,
                &at,
                &actor.name,
            ],
        )
        .await;
    match r {
        Ok(row) => read::col(&row, 0, "meter row"),
        Err(e) if unique_violation(&e) == Some("meters_pan_unique") => {
            Err(Conflict::MeterExists { pan: m.pan }.into())
        }
        Err(e) => Err(backend(op)(e)),
    }
}

fn key_details(m: &NewMeter) -> Value {
    let k = &m.key;
    json!({
        "sgc": k.sgc.to_string(), "ti": k.ti.to_string(), "krn": k.krn.get(), "kt": k.kt.bits(),
        "ea": k.ea.code(), "dkga": k.dkga.code(), "base_date": k.base_date.year(),
    })
}

async fn reread(ctx: &WriteCtx<'_>, id: i64) -> LedgerResult<MeterRecord> {
    read::meter_by_id(ctx.conn, id)
        .await?
        .ok_or(LedgerError::Corrupt { what: "meter row" })
}

/// Registers a meter.
pub(super) struct RegisterMeter {
    pub(super) meter: NewMeter,
    pub(super) actor: Actor,
    pub(super) at: UnixSeconds,
}

impl Operation for RegisterMeter {
    type Output = MeterRecord;

    fn lock_key(&self) -> Option<MeterPan> {
        Some(self.meter.pan)
    }

    fn run<'a>(
        &'a mut self,
        ctx: &'a mut WriteCtx<'_>,
    ) -> BoxFuture<'a, LedgerResult<MeterRecord>> {
        Box::pin(async move {
            let (m, actor, at) = (&self.meter, &self.actor, self.at);
            let id = insert_meter(ctx, m, m.customer_ref.as_str(), None, actor, at).await?;
            let details = json!({"customer_ref": m.customer_ref.as_str(), "key": key_details(m)});
            ctx.audit(entry(
                at,
                actor,
                "meter.register",
                m.pan.to_string(),
                details,
            ));
            reread(ctx, id).await
        })
    }
}

/// Retires a meter and registers its replacement under the same customer reference.
pub(super) struct Replace {
    pub(super) cmd: ReplaceMeter,
    pub(super) actor: Actor,
    pub(super) at: UnixSeconds,
}

impl Operation for Replace {
    type Output = MeterRecord;

    fn lock_key(&self) -> Option<MeterPan> {
        Some(self.cmd.old)
    }

    fn run<'a>(
        &'a mut self,
        ctx: &'a mut WriteCtx<'_>,
    ) -> BoxFuture<'a, LedgerResult<MeterRecord>> {
        Box::pin(async move {
            let (cmd, actor, at) = (&self.cmd, &self.actor, self.at);
            let old = read::meter_for_update(ctx.conn, cmd.old)
                .await?
                .ok_or(LedgerError::MeterNotFound { pan: cmd.old })?;
            old.ensure_active()?;
            let id = insert_meter(
                ctx,
                &cmd.new,
                old.customer_ref.as_str(),
                Some(old.id),
                actor,
                at,
            )
            .await?;
            let op = "retire meter";
            let stmt = ctx
                .conn
                .prepare_cached(
                    "UPDATE meters SET status = 'retired', replaced_by_id = $1, retired_at = $2, \
                     retire_reason = $3 WHERE id = $4",
                )
                .await
                .map_err(backend(op))?;
            ctx.conn
                .execute(&stmt, &[&id, &at, &cmd.reason, &old.id])
                .await
                .map_err(backend(op))?;
            let details = json!({
                "new_meter": cmd.new.pan.to_string(), "reason": cmd.reason,
                "customer_ref": old.customer_ref.as_str(), "key": key_details(&cmd.new),
            });
            ctx.audit(entry(
                at,
                actor,
                "meter.replace",
                old.pan.to_string(),
                details,
            ));
            reread(ctx, id).await
        })
    }
}

/// Records a meter event.
pub(super) struct RecordEvent {
    pub(super) event: MeterEvent,
    pub(super) actor: Actor,
    pub(super) at: UnixSeconds,
}

impl Operation for RecordEvent {
    type Output = MeterEventRecord;

    fn lock_key(&self) -> Option<MeterPan> {
        Some(self.event.meter)
    }

    fn run<'a>(
        &'a mut self,
        ctx: &'a mut WriteCtx<'_>,
    ) -> BoxFuture<'a, LedgerResult<MeterEventRecord>> {
        Box::pin(async move {
            let (ev, actor, at) = (&self.event, &self.actor, self.at);
            let meter = read::meter_by_pan(ctx.conn, ev.meter)
                .await?
                .ok_or(LedgerError::MeterNotFound { pan: ev.meter })?;
            let op = "write meter event";
            let stmt = ctx
                .conn
                .prepare_cached(
                    "INSERT INTO meter_events (meter_id, kind, details, reported_at, received_at, \
                     actor) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .await
                .map_err(backend(op))?;
            let row = ctx
                .conn
                .query_one(
                    &stmt,
                    &[
                        &meter.id,
                        &ev.kind,
                        &ev.details.to_string(),
                        &ev.reported_at,
                        &at,
                        &actor.name,
                    ],
                )
                .await
                .map_err(backend(op))?;
            let rec = MeterEventRecord {
                id: read::col(&row, 0, "meter event row")?,
                event: ev.clone(),
                received_at: at,
            };
            let details = json!({"event_id": rec.id, "kind": rec.event.kind, "details": rec.event.details, "reported_at": rfc3339(rec.event.reported_at)});
            let action = format!("meter.{}", rec.event.kind);
            ctx.audit(entry(at, actor, &action, meter.pan.to_string(), details));
            outbox(ctx, &action, &payload::meter_event(&meter, &rec), at).await?;
            Ok(rec)
        })
    }
}

/// Stores an API key.
pub(super) struct CreateApiKey {
    pub(super) key: NewApiKey,
    pub(super) actor: Actor,
    pub(super) at: UnixSeconds,
}

impl Operation for CreateApiKey {
    type Output = ApiKeyRecord;

    fn lock_key(&self) -> Option<MeterPan> {
        None
    }

    fn run<'a>(
        &'a mut self,
        ctx: &'a mut WriteCtx<'_>,
    ) -> BoxFuture<'a, LedgerResult<ApiKeyRecord>> {
        Box::pin(async move {
            let (k, actor, at) = (&self.key, &self.actor, self.at);
            let op = "create api key";
            let stmt = ctx
                .conn
                .prepare_cached(&format!(
                    "INSERT INTO api_keys (public_id, name, scopes, secret_sha256, rate_per_sec, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING {}",
                    read::API_KEY_COLUMNS
                ))
                .await
                .map_err(backend(op))?;
            let r = ctx
                .conn
                .query_one(
                    &stmt,
                    &[
                        &k.public_id,
                        &k.name,
                        &k.scopes.join(","),
                        &k.secret_sha256.as_slice(),
                        &k.rate_per_sec,
                        &at,
                    ],
                )
                .await;
            let rec = match r {
                Ok(row) => read::api_key_row(&row)?,
                Err(e) => {
                    return Err(match unique_violation(&e) {
                        Some("api_keys_name_unique") => Conflict::ApiKeyNameTaken {
                            name: k.name.clone(),
                        }
                        .into(),
                        Some(constraint) => Conflict::Unique {
                            constraint: constraint.to_owned(),
                        }
                        .into(),
                        None => backend(op)(e),
                    });
                }
            };
            let details = json!({"name": k.name, "public_id": k.public_id, "scopes": k.scopes, "rate_per_sec": k.rate_per_sec});
            ctx.audit(entry(at, actor, "apikey.create", k.name.clone(), details));
            Ok(rec)
        })
    }
}

/// Revokes an API key by name.
pub(super) struct RevokeApiKey {
    pub(super) name: String,
    pub(super) actor: Actor,
    pub(super) at: UnixSeconds,
}

impl Operation for RevokeApiKey {
    type Output = bool;

    fn lock_key(&self) -> Option<MeterPan> {
        None
    }

    fn run<'a>(&'a mut self, ctx: &'a mut WriteCtx<'_>) -> BoxFuture<'a, LedgerResult<bool>> {
        Box::pin(async move {
            let op = "revoke api key";
            let stmt = ctx
                .conn
                .prepare_cached(
                    "UPDATE api_keys SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL",
                )
                .await
                .map_err(backend(op))?;
            let n = ctx
                .conn
                .execute(&stmt, &[&self.at, &self.name])
                .await
                .map_err(backend(op))?;
            if n == 0 {
                return Ok(false);
            }
            ctx.audit(entry(
                self.at,
                &self.actor,
                "apikey.revoke",
                self.name.clone(),
                json!({}),
            ));
            Ok(true)
        })
    }
}

/// Claims due outbox messages: rows another instance is claiming right now are skipped
/// (`SKIP LOCKED`), rows it claimed are under its lease until `lease_until`.
pub(super) async fn claim_webhooks(
    c: &Conn,
    now: UnixSeconds,
    limit: u32,
    lease: i64,
) -> LedgerResult<Vec<OutboxMessage>> {
    let op = "claim webhooks";
    let stmt = c
        .prepare_cached(
            "UPDATE webhook_outbox SET lease_until = $1 + $3 WHERE id IN ( \
               SELECT id FROM webhook_outbox WHERE delivered_at IS NULL AND failed_at IS NULL \
               AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1) \
               ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING id, event, payload, attempts",
        )
        .await
        .map_err(backend(op))?;
    let rows = c
        .query(&stmt, &[&now, &i64::from(limit), &lease])
        .await
        .map_err(backend(op))?;
    let mut out = rows
        .iter()
        .map(|r| {
            Ok(OutboxMessage {
                id: read::col(r, 0, "outbox row")?,
                event: read::col(r, 1, "outbox row")?,
                payload: read::col(r, 2, "outbox row")?,
                attempts: u32::try_from(read::col::<i64>(r, 3, "outbox row")?).map_err(|_| {
                    LedgerError::Corrupt {
                        what: "outbox attempts",
                    }
                })?,
            })
        })
        .collect::<LedgerResult<Vec<_>>>()?;
    out.sort_by_key(|m| m.id);
    Ok(out)
}

/// Records a delivery attempt's end.
pub(super) async fn settle_webhook(
    c: &Conn,
    id: i64,
    outcome: Delivery,
    at: UnixSeconds,
) -> LedgerResult<()> {
    let op = "settle webhook";
    let (sql, time, error) = match &outcome {
        Delivery::Delivered => (
            "UPDATE webhook_outbox SET delivered_at = $1, attempts = attempts + 1, \
             lease_until = NULL, last_error = COALESCE($3, last_error) WHERE id = $2",
            at,
            None,
        ),
        Delivery::Retry { at: next, error } => (
            "UPDATE webhook_outbox SET next_attempt_at = $1, attempts = attempts + 1, \
             lease_until = NULL, last_error = $3 WHERE id = $2",
            *next,
            Some(error.as_str()),
        ),
        Delivery::GaveUp { error } => (
            "UPDATE webhook_outbox SET failed_at = $1, attempts = attempts + 1, \
             lease_until = NULL, last_error = $3 WHERE id = $2",
            at,
            Some(error.as_str()),
        ),
    };
    let stmt = c.prepare_cached(sql).await.map_err(backend(op))?;
    let params: [&(dyn ToSql + Sync); 3] = [&time, &id, &error];
    c.execute(&stmt, &params).await.map_err(backend(op))?;
    Ok(())
}
