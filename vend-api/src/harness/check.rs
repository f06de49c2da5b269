//! The ledger, read back through the API, against the client log. Everything goes through
//! HTTP, so the checks are the same for every backend.
//!
//! - Every acknowledged token is in the ledger, in its issue, with the same digits, TID,
//!   position and kind; every answer given twice for one issue (a replay) is identical.
//! - No (meter, base date, TID) appears twice.
//! - Optionally ("exact"): no issue exists for the harness's meters that the client was not
//!   told about (once every in-doubt request has been resolved by retrying it).
//! - Idempotent retries return the original tokens ([`replay`]).
//! - The audit chain verifies and holds at least one entry per issue.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

use super::acklog::AckRecord;
use super::client::{Ack, Api, LedgerToken, Outcome};
use super::mix::{IssueRequest, Meters, OpKind};

/// What the checks found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Records in the client log.
    pub acks: usize,
    /// Distinct issues acknowledged.
    pub issues: usize,
    /// Acknowledged tokens compared with the ledger.
    pub tokens_checked: usize,
    /// Tokens the ledger holds for the harness's meters.
    pub ledger_tokens: usize,
    /// Issues the ledger holds for the harness's meters.
    pub ledger_issues: usize,
    /// TID-bearing tokens whose (meter, base date, TID) was checked for uniqueness.
    pub tids_checked: usize,
    /// Audit entries verified.
    pub audit_entries: i64,
    /// Everything that was wrong (empty: all checks passed).
    pub failures: Vec<String>,
}

impl Report {
    fn fail(&mut self, what: String) {
        // Enough to diagnose; a systematic fault would otherwise print thousands of lines.
        if self.failures.len() < 50 {
            self.failures.push(what);
        } else if self.failures.len() == 50 {
            self.failures.push("… more failures not shown".into());
        }
    }

    /// A one-paragraph summary.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "acks {} ({} issues, {} tokens) all in the ledger with the same digits; ledger holds {} issues, {} tokens; {} TIDs unique; audit chain verified, {} entries",
            self.acks,
            self.issues,
            self.tokens_checked,
            self.ledger_issues,
            self.ledger_tokens,
            self.tids_checked,
            self.audit_entries
        );
        if !self.failures.is_empty() {
            s = format!("{} FAILURES:", self.failures.len());
            for f in &self.failures {
                let _ = write!(s, "\n  - {f}");
            }
        }
        s
    }
}

/// Fetches every meter's tokens, `parallel` meters at a time.
async fn all_tokens(
    api: &Api,
    base: &str,
    meters: &Meters,
    parallel: usize,
) -> Result<Vec<LedgerToken>, String> {
    let mut out = Vec::new();
    let mut set = tokio::task::JoinSet::new();
    let mut pans = meters.pans().iter().map(ToString::to_string);
    loop {
        while set.len() < parallel.max(1) {
            let Some(pan) = pans.next() else { break };
            let (api, base) = (api.clone(), base.to_owned());
            set.spawn(async move { api.meter_tokens(&base, &pan).await });
        }
        match set.join_next().await {
            Some(joined) => out.extend(joined.map_err(|e| e.to_string())??),
            None => return Ok(out),
        }
    }
}

fn same_token(acked: &super::client::AckToken, l: &LedgerToken) -> bool {
    acked.position == l.position
        && acked.kind == l.kind
        && acked.digits == l.digits
        && acked.tid == l.tid
        && acked.base_date == l.base_date
}

/// Checks the ledger against the acknowledged answers (see the module documentation).
/// `exact`: also require that the ledger holds no issue the client was not told about.
pub async fn ledger(
    api: &Api,
    base: &str,
    meters: &Meters,
    acks: &[AckRecord],
    exact: bool,
) -> Result<Report, String> {
    let mut r = Report {
        acks: acks.len(),
        ..Report::default()
    };
    // One answer per issue; a replayed answer must equal the original, and one
    // idempotency key must never have produced two issues.
    let mut by_issue: BTreeMap<i64, &Ack> = BTreeMap::new();
    let mut by_idem: HashMap<&str, i64> = HashMap::new();
    for rec in acks {
        if let Some(prev) = by_idem.insert(rec.idem.as_str(), rec.ack.issue_id) {
            if prev != rec.ack.issue_id {
                r.fail(format!(
                    "idempotency key {} answered with issue {prev} and issue {}",
                    rec.idem, rec.ack.issue_id
                ));
            }
        }
        match by_issue.get(&rec.ack.issue_id) {
            Some(first) if **first != rec.ack => r.fail(format!(
                "issue {} was answered twice with different tokens",
                rec.ack.issue_id
            )),
            Some(_) => {}
            None => {
                by_issue.insert(rec.ack.issue_id, &rec.ack);
            }
        }
    }
    r.issues = by_issue.len();

    let ledger = all_tokens(api, base, meters, 16).await?;
    r.ledger_tokens = ledger.len();
    let mut tids: BTreeSet<(&str, u16, u32)> = BTreeSet::new();
    let mut ledger_by_id: HashMap<i64, &LedgerToken> = HashMap::with_capacity(ledger.len());
    let mut ledger_issues: BTreeMap<i64, usize> = BTreeMap::new();
    for t in &ledger {
        if let (Some(tid), Some(bd)) = (t.tid, t.base_date) {
            r.tids_checked += 1;
            if !tids.insert((t.meter.as_str(), bd, tid)) {
                r.fail(format!(
                    "meter {} has TID {tid} (base {bd}) twice (token {})",
                    t.meter, t.token_id
                ));
            }
        }
        ledger_by_id.insert(t.token_id, t);
        *ledger_issues.entry(t.issue_id).or_default() += 1;
    }
    r.ledger_issues = ledger_issues.len();

    for (id, ack) in &by_issue {
        if ledger_issues.get(id) != Some(&ack.tokens.len()) {
            r.fail(format!(
                "issue {id}: acknowledged {} tokens, the ledger holds {}",
                ack.tokens.len(),
                ledger_issues.get(id).copied().unwrap_or(0)
            ));
        }
        for t in &ack.tokens {
            r.tokens_checked += 1;
            match ledger_by_id.get(&t.token_id) {
                Some(l) if l.issue_id == *id && l.meter == ack.meter && same_token(t, l) => {}
                Some(l) => r.fail(format!(
                    "token {} of issue {id} differs in the ledger: acknowledged {t:?}, ledger {l:?}",
                    t.token_id
                )),
                None => r.fail(format!(
                    "acknowledged token {} of issue {id} (meter {}) is not in the ledger",
                    t.token_id, ack.meter
                )),
            }
        }
    }
    if exact {
        for id in ledger_issues.keys() {
            if !by_issue.contains_key(id) {
                r.fail(format!(
                    "the ledger holds issue {id}, which no acknowledged answer reported"
                ));
            }
        }
    }

    let audit = api.audit_verify(base).await?;
    r.audit_entries = audit.entries;
    if !audit.ok {
        r.fail(format!(
            "audit chain broken at {:?}: {:?}",
            audit.first_bad_seq, audit.error
        ));
    }
    let issues = i64::try_from(r.ledger_issues).unwrap_or(i64::MAX);
    if audit.entries < issues {
        r.fail(format!(
            "audit chain has {} entries for {issues} issues",
            audit.entries
        ));
    }
    Ok(r)
}

/// The request a log record was answered for.
pub fn request_of(rec: &AckRecord) -> IssueRequest {
    let op = match rec.op.as_str() {
        "management" => OpKind::Management,
        "key_change" => OpKind::KeyChange,
        _ => OpKind::Credit,
    };
    IssueRequest {
        op,
        meter: rec.meter,
        path: rec.path.clone(),
        body: rec.body.clone(),
        idem: rec.idem.clone(),
        new_ti: rec.new_ti,
    }
}

/// Sends an acknowledged request again with its idempotency key: it must answer the stored
/// tokens, marked as replayed. A transport error or 503 is passed back as `Ok(false)` (try
/// again later).
pub async fn replay(api: &Api, base: &str, rec: &AckRecord) -> Result<bool, String> {
    let req = request_of(rec);
    if req.request_sha256() != rec.request_sha256 {
        return Err(format!(
            "log record {} does not hash to its request",
            rec.idem
        ));
    }
    match api.issue(base, &req).await {
        Outcome::Issued {
            ack,
            replayed: true,
        } if ack == rec.ack => Ok(true),
        Outcome::Issued { ack, replayed } => Err(format!(
            "retry of {} (issue {}) answered replayed={replayed} issue {} {:?}, expected the original {:?}",
            rec.idem, rec.ack.issue_id, ack.issue_id, ack.tokens, rec.ack.tokens
        )),
        Outcome::Unavailable { .. } | Outcome::Transport { .. } => Ok(false),
        other => Err(format!(
            "retry of {} (issue {}) answered {}",
            rec.idem,
            rec.ack.issue_id,
            other.label()
        )),
    }
}
