//! Queries, usable on a writer's connection (inside its transaction) and on pooled read
//! connections alike. Stored values are parsed back into domain types here; a value that no
//! longer parses is [`LedgerError::Corrupt`]. The column lists and parsing mirror
//! `ledger/sqlite/read.rs`, so both backends answer identically.

use hsm_core::{
    BaseDate, Dkga, EncryptionAlgorithm, KeyRevision, KeyType, MeterPan, SupplyGroupCode,
    TariffIndex,
};
use token_codec::{Tid, TokenDigits};
use tokio_postgres::Row;
use tokio_postgres::types::{FromSql, ToSql};

use super::{Conn, backend};
use crate::audit::StoredRow;
use crate::ledger::{
    ApiKeyRecord, CustomerRef, IssueKind, IssueRecord, KeyIdentity, LedgerError, LedgerResult,
    MeterKey, MeterRecord, MeterStatus, MintedToken, TokenKind, TokenRecord,
};

const METER_COLUMNS: &str = "m.id, m.pan, m.customer_ref, m.sgc, m.ti, m.krn, m.kt, m.ea, m.dkga, \
     m.base_date, m.status, (SELECT pan FROM meters WHERE id = m.replaces_id), \
     (SELECT pan FROM meters WHERE id = m.replaced_by_id), m.retired_at, m.retire_reason, \
     m.created_at, m.key_changed_at";

const TOKEN_COLUMNS: &str = "t.id, t.issue_id, m.pan, t.position, t.kind, t.class, t.subclass, \
     t.tid, t.base_date, t.digits, t.sgc, t.ti, t.krn, t.kt, t.created_at";

pub(super) const API_KEY_COLUMNS: &str =
    "id, public_id, name, scopes, secret_sha256, rate_per_sec, created_at, revoked_at";

fn corrupt(what: &'static str) -> LedgerError {
    LedgerError::Corrupt { what }
}

/// Column `i` of `row` as `T`; a missing column or a type the schema does not have is a
/// corrupt row, never a panic.
pub(super) fn col<'r, T: FromSql<'r>>(
    row: &'r Row,
    i: usize,
    what: &'static str,
) -> LedgerResult<T> {
    row.try_get(i).map_err(|_| corrupt(what))
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

fn key_identity(sgc: i64, ti: i64, krn: i64, kt: i64) -> LedgerResult<KeyIdentity> {
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

pub(super) fn base_date(v: i64) -> LedgerResult<BaseDate> {
    u16::try_from(v)
        .ok()
        .and_then(|y| BaseDate::from_year(y).ok())
        .ok_or(corrupt("base date"))
}

pub(super) fn tid(v: i64) -> LedgerResult<Tid> {
    u32::try_from(v)
        .ok()
        .and_then(|t| Tid::new(t).ok())
        .ok_or(corrupt("tid"))
}

fn dkga(v: i64) -> LedgerResult<Dkga> {
    match v {
        2 => Ok(Dkga::Dkga02),
        4 => Ok(Dkga::Dkga04),
        _ => Err(corrupt("dkga")),
    }
}

pub(super) fn meter_row(r: &Row) -> LedgerResult<MeterRecord> {
    let int = |i| col::<i64>(r, i, "meter row");
    let ident = key_identity(int(3)?, int(4)?, int(5)?, int(6)?)?;
    let status: &str = col(r, 10, "meter status")?;
    let replaces: Option<&str> = col(r, 11, "meter pan")?;
    let replaced_by: Option<&str> = col(r, 12, "meter pan")?;
    Ok(MeterRecord {
        id: int(0)?,
        pan: pan(col(r, 1, "meter pan")?, "meter pan")?,
        customer_ref: col::<&str>(r, 2, "customer ref")?
            .parse::<CustomerRef>()
            .map_err(|_| corrupt("customer ref"))?,
        key: MeterKey {
            sgc: ident.sgc,
            ti: ident.ti,
            krn: ident.krn,
            kt: ident.kt,
            ea: u8::try_from(int(7)?)
                .ok()
                .and_then(|c| EncryptionAlgorithm::from_code(c).ok())
                .ok_or(corrupt("encryption algorithm"))?,
            dkga: dkga(int(8)?)?,
            base_date: base_date(int(9)?)?,
        },
        status: match status {
            "active" => MeterStatus::Active,
            "retired" => MeterStatus::Retired,
            _ => return Err(corrupt("meter status")),
        },
        replaces: replaces.map(|p| pan(p, "meter pan")).transpose()?,
        replaced_by: replaced_by.map(|p| pan(p, "meter pan")).transpose()?,
        retired_at: col(r, 13, "meter row")?,
        retire_reason: col(r, 14, "meter row")?,
        created_at: int(15)?,
        key_changed_at: col(r, 16, "meter row")?,
    })
}

fn token_row(r: &Row) -> LedgerResult<TokenRecord> {
    let int = |i| col::<i64>(r, i, "token row");
    let t: Option<i64> = col(r, 7, "tid")?;
    let bd: Option<i64> = col(r, 8, "base date")?;
    let tid = match (t, bd) {
        (Some(t), Some(b)) => Some((tid(t)?, base_date(b)?)),
        _ => None,
    };
    Ok(TokenRecord {
        id: int(0)?,
        issue_id: int(1)?,
        meter: pan(col(r, 2, "meter pan")?, "meter pan")?,
        position: u32::try_from(int(3)?).map_err(|_| corrupt("token position"))?,
        token: MintedToken {
            kind: TokenKind::from_name(col(r, 4, "token kind")?).ok_or(corrupt("token kind"))?,
            class: u8::try_from(int(5)?).map_err(|_| corrupt("token class"))?,
            subclass: u8::try_from(int(6)?).map_err(|_| corrupt("token subclass"))?,
            tid,
            digits: col::<&str>(r, 9, "token digits")?
                .parse::<TokenDigits>()
                .map_err(|_| corrupt("token digits"))?,
            key: key_identity(int(10)?, int(11)?, int(12)?, int(13)?)?,
        },
        created_at: int(14)?,
    })
}

/// Runs a cached statement and parses every row.
async fn rows<T>(
    c: &Conn,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
    op: &'static str,
    parse: impl Fn(&Row) -> LedgerResult<T>,
) -> LedgerResult<Vec<T>> {
    let stmt = c.prepare_cached(sql).await.map_err(backend(op))?;
    let rows = c.query(&stmt, params).await.map_err(backend(op))?;
    rows.iter().map(parse).collect()
}

/// One meter by PAN.
pub(super) async fn meter_by_pan(c: &Conn, p: MeterPan) -> LedgerResult<Option<MeterRecord>> {
    let sql = format!("SELECT {METER_COLUMNS} FROM meters m WHERE m.pan = $1");
    let text = p.to_string();
    Ok(rows(c, &sql, &[&text], "read meter", meter_row)
        .await?
        .into_iter()
        .next())
}

/// One meter by PAN, its row locked until the transaction ends: issues and replacements of
/// one meter serialise across instances. `NO KEY UPDATE` because the key columns never
/// change, so inserts that reference the meter (events, tokens of other meters' issues)
/// need not wait.
pub(super) async fn meter_for_update(c: &Conn, p: MeterPan) -> LedgerResult<Option<MeterRecord>> {
    let sql = meter_lock_sql();
    let text = p.to_string();
    Ok(rows(c, &sql, &[&text], "lock meter", meter_row)
        .await?
        .into_iter()
        .next())
}

/// The statement [`meter_for_update`] runs (`$1` the PAN).
pub(super) fn meter_lock_sql() -> String {
    format!("SELECT {METER_COLUMNS} FROM meters m WHERE m.pan = $1 FOR NO KEY UPDATE OF m")
}

/// One meter by row id.
pub(super) async fn meter_by_id(c: &Conn, id: i64) -> LedgerResult<Option<MeterRecord>> {
    let sql = format!("SELECT {METER_COLUMNS} FROM meters m WHERE m.id = $1");
    Ok(rows(c, &sql, &[&id], "read meter", meter_row)
        .await?
        .into_iter()
        .next())
}

/// Every meter of a customer, oldest first.
pub(super) async fn meters_by_customer(
    c: &Conn,
    customer: CustomerRef,
) -> LedgerResult<Vec<MeterRecord>> {
    let sql =
        format!("SELECT {METER_COLUMNS} FROM meters m WHERE m.customer_ref = $1 ORDER BY m.id");
    rows(c, &sql, &[&customer.as_str()], "read meters", meter_row).await
}

async fn tokens_where(
    c: &Conn,
    clause: &str,
    params: &[&(dyn ToSql + Sync)],
) -> LedgerResult<Vec<TokenRecord>> {
    let sql = format!(
        "SELECT {TOKEN_COLUMNS} FROM tokens t JOIN meters m ON m.id = t.meter_id WHERE {clause}"
    );
    rows(c, &sql, params, "read tokens", token_row).await
}

/// One token.
pub(super) async fn token(c: &Conn, id: i64) -> LedgerResult<Option<TokenRecord>> {
    Ok(tokens_where(c, "t.id = $1", &[&id])
        .await?
        .into_iter()
        .next())
}

/// A meter's tokens, newest first.
pub(super) async fn meter_tokens(
    c: &Conn,
    p: MeterPan,
    before: Option<i64>,
    limit: u32,
) -> LedgerResult<Vec<TokenRecord>> {
    let before = before.unwrap_or(i64::MAX);
    tokens_where(
        c,
        "m.pan = $1 AND t.id < $2 ORDER BY t.id DESC LIMIT $3",
        &[&p.to_string(), &before, &i64::from(limit)],
    )
    .await
}

/// Tokens with these digits.
pub(super) async fn tokens_by_digits(c: &Conn, d: TokenDigits) -> LedgerResult<Vec<TokenRecord>> {
    tokens_where(c, "t.digits = $1 ORDER BY t.id", &[&d.as_str()]).await
}

/// One issue with its tokens.
pub(super) async fn issue(c: &Conn, id: i64) -> LedgerResult<Option<IssueRecord>> {
    let found = rows(
        c,
        "SELECT i.id, m.pan, i.kind, i.actor, i.summary, i.created_at \
         FROM issues i JOIN meters m ON m.id = i.meter_id WHERE i.id = $1",
        &[&id],
        "read issue",
        |r| {
            Ok(IssueRecord {
                id: col(r, 0, "issue row")?,
                meter: pan(col(r, 1, "meter pan")?, "meter pan")?,
                kind: IssueKind::from_name(col(r, 2, "issue kind")?)
                    .ok_or(corrupt("issue kind"))?,
                actor: col(r, 3, "issue row")?,
                summary: serde_json::from_str(col(r, 4, "issue summary")?)
                    .map_err(|_| corrupt("issue summary"))?,
                created_at: col(r, 5, "issue row")?,
                tokens: Vec::new(),
            })
        },
    )
    .await?;
    let Some(mut issue) = found.into_iter().next() else {
        return Ok(None);
    };
    issue.tokens = tokens_where(c, "t.issue_id = $1 ORDER BY t.position", &[&id]).await?;
    Ok(Some(issue))
}

pub(super) fn api_key_row(r: &Row) -> LedgerResult<ApiKeyRecord> {
    let hash: &[u8] = col(r, 4, "api key hash")?;
    let scopes: &str = col(r, 3, "api key scopes")?;
    Ok(ApiKeyRecord {
        id: col(r, 0, "api key row")?,
        public_id: col(r, 1, "api key row")?,
        name: col(r, 2, "api key row")?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        secret_sha256: <[u8; 32]>::try_from(hash).map_err(|_| corrupt("api key hash"))?,
        rate_per_sec: col(r, 5, "api key row")?,
        created_at: col(r, 6, "api key row")?,
        revoked_at: col(r, 7, "api key row")?,
    })
}

/// An API key by public id.
pub(super) async fn api_key(c: &Conn, public_id: String) -> LedgerResult<Option<ApiKeyRecord>> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE public_id = $1");
    Ok(rows(c, &sql, &[&public_id], "read api key", api_key_row)
        .await?
        .into_iter()
        .next())
}

/// Every API key.
pub(super) async fn api_keys(c: &Conn) -> LedgerResult<Vec<ApiKeyRecord>> {
    let sql = format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY id");
    rows(c, &sql, &[], "read api keys", api_key_row).await
}

/// Audit rows after `after`, exactly as stored.
pub(super) async fn audit_rows(c: &Conn, after: i64, limit: u32) -> LedgerResult<Vec<StoredRow>> {
    rows(
        c,
        "SELECT seq, at, actor, action, subject, details, prev_hash, hash \
         FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2",
        &[&after, &i64::from(limit)],
        "read audit",
        |r| {
            let text = |i| col::<String>(r, i, "audit row");
            Ok(StoredRow {
                seq: col(r, 0, "audit row")?,
                at: text(1)?,
                actor: text(2)?,
                action: text(3)?,
                subject: text(4)?,
                details: text(5)?,
                prev_hash: text(6)?,
                hash: text(7)?,
            })
        },
    )
    .await
}
