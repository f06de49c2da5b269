//! Queries, usable on the writer's connection (inside its transaction) and on read
//! connections alike. Stored values are parsed back into domain types here; a value that no
//! longer parses is [`LedgerError::Corrupt`].

use hsm_core::{
    BaseDate, Dkga, EncryptionAlgorithm, KeyRevision, KeyType, MeterPan, SupplyGroupCode,
    TariffIndex,
};
use rusqlite::{Connection, OptionalExtension, Row, params};
use token_codec::{Tid, TokenDigits};

use super::backend;
use crate::audit::StoredRow;
use crate::ledger::{
    ApiKeyRecord, CustomerRef, IssueKind, IssueRecord, KeyIdentity, LedgerError, LedgerResult,
    MeterKey, MeterRecord, MeterStatus, MintedToken, TokenKind, TokenRecord,
};

/// The meter columns `meter_row` reads (a macro so that queries are `concat!`ed once, not
/// formatted on every vend).
macro_rules! meter_columns {
    () => {
        "m.id, m.pan, m.customer_ref, m.sgc, m.ti, m.krn, m.kt, m.ea, m.dkga, \
         m.base_date, m.status, (SELECT pan FROM meters WHERE id = m.replaces_id), \
         (SELECT pan FROM meters WHERE id = m.replaced_by_id), m.retired_at, m.retire_reason, \
         m.created_at, m.key_changed_at"
    };
}
const METER_COLUMNS: &str = meter_columns!();

const TOKEN_COLUMNS: &str = "t.id, t.issue_id, m.pan, t.position, t.kind, t.class, t.subclass, \
     t.tid, t.base_date, t.digits, t.sgc, t.ti, t.krn, t.kt, t.created_at";

fn corrupt(what: &'static str) -> LedgerError {
    LedgerError::Corrupt { what }
}

fn pan(text: &str, what: &'static str) -> LedgerResult<MeterPan> {
    text.parse().map_err(|_| corrupt(what))
}

fn small<T: TryFrom<u8>>(v: i64, what: &'static str) -> LedgerResult<T> {
    u8::try_from(v)
        .ok()
        .and_then(|b| T::try_from(b).ok())
        .ok_or(corrupt(what))
}

pub(super) fn key_identity(sgc: i64, ti: i64, krn: i64, kt: i64) -> LedgerResult<KeyIdentity> {
    Ok(KeyIdentity {
        sgc: u32::try_from(sgc)
            .ok()
            .and_then(|v| SupplyGroupCode::new(v).ok())
            .ok_or(corrupt("sgc"))?,
        ti: small::<TariffIndex>(ti, "tariff index")?,
        krn: small::<KeyRevision>(krn, "key revision")?,
        kt: small::<KeyType>(kt, "key type")?,
    })
}

fn base_date(v: i64) -> LedgerResult<BaseDate> {
    u16::try_from(v)
        .ok()
        .and_then(|y| BaseDate::from_year(y).ok())
        .ok_or(corrupt("base date"))
}

fn dkga(v: i64) -> LedgerResult<Dkga> {
    match v {
        2 => Ok(Dkga::Dkga02),
        4 => Ok(Dkga::Dkga04),
        _ => Err(corrupt("dkga")),
    }
}

fn meter_row(r: &Row<'_>) -> rusqlite::Result<LedgerResult<MeterRecord>> {
    let text = |i| r.get::<_, String>(i);
    let int = |i| r.get::<_, i64>(i);
    let pan_text = text(1)?;
    let customer = text(2)?;
    let (sgc, ti, krn, kt, ea, dk, bd) = (
        int(3)?,
        int(4)?,
        int(5)?,
        int(6)?,
        int(7)?,
        int(8)?,
        int(9)?,
    );
    let status = text(10)?;
    let replaces: Option<String> = r.get(11)?;
    let replaced_by: Option<String> = r.get(12)?;
    let (id, retired_at, reason, created_at, key_changed_at) =
        (int(0)?, r.get(13)?, r.get(14)?, int(15)?, r.get(16)?);
    Ok((|| {
        let ident = key_identity(sgc, ti, krn, kt)?;
        Ok(MeterRecord {
            id,
            pan: pan(&pan_text, "meter pan")?,
            customer_ref: customer
                .parse::<CustomerRef>()
                .map_err(|_| corrupt("customer ref"))?,
            key: MeterKey {
                sgc: ident.sgc,
                ti: ident.ti,
                krn: ident.krn,
                kt: ident.kt,
                ea: u8::try_from(ea)
                    .ok()
                    .and_then(|c| EncryptionAlgorithm::from_code(c).ok())
                    .ok_or(corrupt("encryption algorithm"))?,
                dkga: dkga(dk)?,
                base_date: base_date(bd)?,
            },
            status: match status.as_str() {
                "active" => MeterStatus::Active,
                "retired" => MeterStatus::Retired,
                _ => return Err(corrupt("meter status")),
            },
            replaces: replaces.map(|p| pan(&p, "meter pan")).transpose()?,
            replaced_by: replaced_by.map(|p| pan(&p, "meter pan")).transpose()?,
            retired_at,
            retire_reason: reason,
            created_at,
            key_changed_at,
        })
    })())
}

fn token_row(r: &Row<'_>) -> rusqlite::Result<LedgerResult<TokenRecord>> {
    let int = |i| r.get::<_, i64>(i);
    let (id, issue_id) = (int(0)?, int(1)?);
    let pan_text: String = r.get(2)?;
    let position = int(3)?;
    let kind: String = r.get(4)?;
    let (class, subclass) = (int(5)?, int(6)?);
    let tid: Option<i64> = r.get(7)?;
    let bd: Option<i64> = r.get(8)?;
    let digits: String = r.get(9)?;
    let (sgc, ti, krn, kt, created_at) = (int(10)?, int(11)?, int(12)?, int(13)?, int(14)?);
    Ok((|| {
        let tid = match (tid, bd) {
            (Some(t), Some(b)) => Some((
                u32::try_from(t)
                    .ok()
                    .and_then(|v| Tid::new(v).ok())
                    .ok_or(corrupt("tid"))?,
                base_date(b)?,
            )),
            _ => None,
        };
        Ok(TokenRecord {
            id,
            issue_id,
            meter: pan(&pan_text, "meter pan")?,
            position: u32::try_from(position).map_err(|_| corrupt("token position"))?,
            token: MintedToken {
                kind: TokenKind::from_name(&kind).ok_or(corrupt("token kind"))?,
                class: u8::try_from(class).map_err(|_| corrupt("token class"))?,
                subclass: u8::try_from(subclass).map_err(|_| corrupt("token subclass"))?,
                tid,
                digits: digits
                    .parse::<TokenDigits>()
                    .map_err(|_| corrupt("token digits"))?,
                key: key_identity(sgc, ti, krn, kt)?,
            },
            created_at,
        })
    })())
}

fn collect<T>(
    rows: impl Iterator<Item = rusqlite::Result<LedgerResult<T>>>,
    op: &'static str,
) -> LedgerResult<Vec<T>> {
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(backend(op))??);
    }
    Ok(out)
}

/// One meter by PAN.
pub(super) fn meter_by_pan(conn: &Connection, p: &MeterPan) -> LedgerResult<Option<MeterRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        meter_columns!(),
        " FROM meters m WHERE m.pan = ?1"
    );
    let mut stmt = conn.prepare_cached(SQL).map_err(backend("read meter"))?;
    stmt.query_row(params![p.to_string()], meter_row)
        .optional()
        .map_err(backend("read meter"))?
        .transpose()
}

/// One meter by row id.
pub(super) fn meter_by_id(conn: &Connection, id: i64) -> LedgerResult<Option<MeterRecord>> {
    const SQL: &str = concat!(
        "SELECT ",
        meter_columns!(),
        " FROM meters m WHERE m.id = ?1"
    );
    let mut stmt = conn.prepare_cached(SQL).map_err(backend("read meter"))?;
    stmt.query_row(params![id], meter_row)
        .optional()
        .map_err(backend("read meter"))?
        .transpose()
}

/// Every meter of a customer, oldest first.
pub(super) fn meters_by_customer(
    conn: &Connection,
    c: &CustomerRef,
) -> LedgerResult<Vec<MeterRecord>> {
    let sql =
        format!("SELECT {METER_COLUMNS} FROM meters m WHERE m.customer_ref = ?1 ORDER BY m.id");
    let mut stmt = conn.prepare_cached(&sql).map_err(backend("read meters"))?;
    let rows = stmt
        .query_map(params![c.as_str()], meter_row)
        .map_err(backend("read meters"))?;
    collect(rows, "read meters")
}

fn tokens_where(
    conn: &Connection,
    clause: &str,
    args: &[&dyn rusqlite::ToSql],
) -> LedgerResult<Vec<TokenRecord>> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t JOIN meters m ON m.id = t.meter_id WHERE {clause}"
    );
    let mut stmt = conn.prepare_cached(&sql).map_err(backend("read tokens"))?;
    let rows = stmt
        .query_map(args, token_row)
        .map_err(backend("read tokens"))?;
    collect(rows, "read tokens")
}

/// One token.
pub(super) fn token(conn: &Connection, id: i64) -> LedgerResult<Option<TokenRecord>> {
    Ok(tokens_where(conn, "t.id = ?1", &[&id])?.into_iter().next())
}

/// A meter's tokens, newest first.
pub(super) fn meter_tokens(
    conn: &Connection,
    p: &MeterPan,
    before: Option<i64>,
    limit: u32,
) -> LedgerResult<Vec<TokenRecord>> {
    let before = before.unwrap_or(i64::MAX);
    tokens_where(
        conn,
        "m.pan = ?1 AND t.id < ?2 ORDER BY t.id DESC LIMIT ?3",
        &[&p.to_string(), &before, &limit],
    )
}

/// Tokens with these digits.
pub(super) fn tokens_by_digits(
    conn: &Connection,
    d: &TokenDigits,
) -> LedgerResult<Vec<TokenRecord>> {
    tokens_where(conn, "t.digits = ?1 ORDER BY t.id", &[&d.as_str()])
}

/// One issue with its tokens.
pub(super) fn issue(conn: &Connection, id: i64) -> LedgerResult<Option<IssueRecord>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT i.id, m.pan, i.kind, i.actor, i.summary, i.created_at \
             FROM issues i JOIN meters m ON m.id = i.meter_id WHERE i.id = ?1",
        )
        .map_err(backend("read issue"))?;
    let row = stmt
        .query_row(params![id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .optional()
        .map_err(backend("read issue"))?;
    let Some((id, pan_text, kind, actor, summary, created_at)) = row else {
        return Ok(None);
    };
    Ok(Some(IssueRecord {
        id,
        meter: pan(&pan_text, "meter pan")?,
        kind: IssueKind::from_name(&kind).ok_or(corrupt("issue kind"))?,
        actor,
        summary: serde_json::from_str(&summary).map_err(|_| corrupt("issue summary"))?,
        created_at,
        tokens: tokens_where(conn, "t.issue_id = ?1 ORDER BY t.position", &[&id])?,
    }))
}

fn api_key_row(r: &Row<'_>) -> rusqlite::Result<LedgerResult<ApiKeyRecord>> {
    let hash: Vec<u8> = r.get(4)?;
    let scopes: String = r.get(3)?;
    let (id, public_id, name) = (r.get(0)?, r.get(1)?, r.get(2)?);
    let (rate_per_sec, created_at, revoked_at) = (r.get(5)?, r.get(6)?, r.get(7)?);
    Ok(<[u8; 32]>::try_from(hash.as_slice())
        .map_err(|_| corrupt("api key hash"))
        .map(|secret_sha256| ApiKeyRecord {
            id,
            public_id,
            name,
            scopes: scopes
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            secret_sha256,
            rate_per_sec,
            created_at,
            revoked_at,
        }))
}

const API_KEY_COLUMNS: &str =
    "id, public_id, name, scopes, secret_sha256, rate_per_sec, created_at, revoked_at";

/// An API key by public id.
pub(super) fn api_key(conn: &Connection, public_id: &str) -> LedgerResult<Option<ApiKeyRecord>> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE public_id = ?1");
    let mut stmt = conn.prepare_cached(&sql).map_err(backend("read api key"))?;
    stmt.query_row(params![public_id], api_key_row)
        .optional()
        .map_err(backend("read api key"))?
        .transpose()
}

/// Every API key.
pub(super) fn api_keys(conn: &Connection) -> LedgerResult<Vec<ApiKeyRecord>> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY id");
    let mut stmt = conn
        .prepare_cached(&sql)
        .map_err(backend("read api keys"))?;
    let rows = stmt
        .query_map([], api_key_row)
        .map_err(backend("read api keys"))?;
    collect(rows, "read api keys")
}

/// Audit rows after `after`, exactly as stored.
pub(super) fn audit_rows(
    conn: &Connection,
    after: i64,
    limit: u32,
) -> LedgerResult<Vec<StoredRow>> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT seq, at, actor, action, subject, details, prev_hash, hash \
             FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        )
        .map_err(backend("read audit"))?;
    let rows = stmt
        .query_map(params![after, limit], |r| {
            Ok(Ok(StoredRow {
                seq: r.get(0)?,
                at: r.get(1)?,
                actor: r.get(2)?,
                action: r.get(3)?,
                subject: r.get(4)?,
                details: r.get(5)?,
                prev_hash: r.get(6)?,
                hash: r.get(7)?,
            }))
        })
        .map_err(backend("read audit"))?;
    collect(rows, "read audit")
}
