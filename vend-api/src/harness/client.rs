//! The harness's HTTP client: issuing requests and what came back, meter registration, and
//! the reads the checks need (a meter's tokens, an issue, the audit chain).

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::mix::{IssueRequest, Meters};

/// A token in an issuing answer (or read back from the ledger).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AckToken {
    /// Token id.
    pub token_id: i64,
    /// Entry order in its issue.
    pub position: u32,
    /// What it does.
    pub kind: String,
    /// The 20 digits.
    pub digits: String,
    /// TID, for TID-bearing tokens.
    pub tid: Option<u32>,
    /// The TID's base date.
    pub base_date: Option<u16>,
}

/// An issuing answer (201): the issue and its tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ack {
    /// Issue id.
    pub issue_id: i64,
    /// The meter.
    pub meter: String,
    /// `credit`, `management`, `key_change`…
    pub kind: String,
    /// The tokens in entry order.
    pub tokens: Vec<AckToken>,
}

/// A token as a meter's token list gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LedgerToken {
    /// Token id.
    pub token_id: i64,
    /// Its issue.
    pub issue_id: i64,
    /// The meter.
    pub meter: String,
    /// Entry order in its issue.
    pub position: u32,
    /// What it does.
    pub kind: String,
    /// The 20 digits.
    pub digits: String,
    /// TID.
    pub tid: Option<u32>,
    /// The TID's base date.
    pub base_date: Option<u16>,
}

/// How an issuing request ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// 201: tokens (`replayed`: the stored answer to an earlier request with this key).
    Issued {
        /// The answer.
        ack: Ack,
        /// `Idempotent-Replayed: true`.
        replayed: bool,
    },
    /// 4xx.
    Refused {
        /// Status.
        status: u16,
        /// Error code.
        code: String,
        /// Error message.
        message: String,
    },
    /// 503, with its `Retry-After` (seconds) if any.
    Unavailable {
        /// Error code (`unavailable`, `timeout`).
        code: String,
        /// Error message.
        message: String,
        /// `Retry-After`.
        retry_after: Option<u64>,
    },
    /// Another 5xx.
    ServerError {
        /// Status.
        status: u16,
        /// Body (truncated).
        body: String,
    },
    /// No HTTP answer (connection refused or reset, timeout): the request may or may not have
    /// been committed.
    Transport {
        /// `connect`, `timeout` or `request`.
        kind: &'static str,
    },
}

impl Outcome {
    /// A short label for counting.
    pub fn label(&self) -> String {
        match self {
            Self::Issued {
                replayed: false, ..
            } => "201".into(),
            Self::Issued { replayed: true, .. } => "201 replayed".into(),
            Self::Refused { status, code, .. } => format!("{status} {code}"),
            Self::Unavailable { code, .. } => format!("503 {code}"),
            Self::ServerError { status, .. } => status.to_string(),
            Self::Transport { kind } => format!("error: {kind}"),
        }
    }
}

/// The audit chain's state as `/v1/audit/verify` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AuditState {
    /// Every entry links and hashes correctly.
    pub ok: bool,
    /// Entries checked.
    pub entries: i64,
    /// Head hash.
    pub head_hash: String,
    /// First bad entry.
    pub first_bad_seq: Option<i64>,
    /// What is wrong.
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct ErrorShape {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct TokenList {
    tokens: Vec<LedgerToken>,
}

#[derive(Deserialize)]
struct MeterShape {
    key: MeterKeyShape,
}

#[derive(Deserialize)]
struct MeterKeyShape {
    ti: String,
}

fn transport(e: &reqwest::Error) -> Outcome {
    Outcome::Transport {
        kind: if e.is_timeout() {
            "timeout"
        } else if e.is_connect() {
            "connect"
        } else {
            "request"
        },
    }
}

/// An API client with one key.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    key: String,
}

impl Api {
    /// A client keeping up to `idle` idle connections per instance, with a per-request timeout.
    pub fn new(key: String, idle: usize, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(idle)
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(2))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { http, key })
    }

    /// Sends an issuing request to `base`.
    pub async fn issue(&self, base: &str, req: &IssueRequest) -> Outcome {
        let r = self
            .http
            .post(format!("{base}{}", req.path))
            .bearer_auth(&self.key)
            .header("content-type", "application/json")
            .header("idempotency-key", &req.idem)
            .body(req.body.clone())
            .send()
            .await;
        let resp = match r {
            Ok(resp) => resp,
            Err(e) => return transport(&e),
        };
        let status = resp.status().as_u16();
        let replayed = resp
            .headers()
            .get("idempotent-replayed")
            .is_some_and(|v| v.as_bytes() == b"true");
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return transport(&e),
        };
        match status {
            201 => match serde_json::from_slice::<Ack>(&bytes) {
                Ok(ack) => Outcome::Issued { ack, replayed },
                Err(e) => Outcome::ServerError {
                    status,
                    body: format!("unreadable 201 body: {e}"),
                },
            },
            400..=499 | 503 => {
                let e = serde_json::from_slice::<ErrorShape>(&bytes).unwrap_or(ErrorShape {
                    code: String::new(),
                    message: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                });
                if status == 503 {
                    Outcome::Unavailable {
                        code: e.code,
                        message: e.message,
                        retry_after,
                    }
                } else {
                    Outcome::Refused {
                        status,
                        code: e.code,
                        message: e.message,
                    }
                }
            }
            _ => Outcome::ServerError {
                status,
                body: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            },
        }
    }

    /// GET `url` as JSON: (status, body).
    pub async fn get_json(&self, url: &str) -> Result<(u16, Value), String> {
        let resp = self
            .http
            .get(url)
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .json::<Value>()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        Ok((status, body))
    }

    /// True once `base/healthz` answers 200, polling until `timeout`.
    pub async fn wait_ready(&self, base: &str, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            let ok = self
                .http
                .get(format!("{base}/healthz"))
                .timeout(Duration::from_millis(500))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// Registers every meter (a 409 for an existing one is fine; its TI is read back so key
    /// changes toggle from the right one). Returns how many were new.
    pub async fn register(&self, base: &str, meters: &Meters) -> Result<usize, String> {
        let mut created = 0usize;
        let indexes: Vec<usize> = (0..meters.len()).collect();
        for chunk in indexes.chunks(32) {
            let mut set = tokio::task::JoinSet::new();
            for &i in chunk {
                let Some(body) = meters.register_body(i) else {
                    continue;
                };
                let req = self
                    .http
                    .post(format!("{base}/v1/meters"))
                    .bearer_auth(&self.key)
                    .header("content-type", "application/json")
                    .body(body);
                set.spawn(async move { (i, req.send().await.map(|r| r.status().as_u16())) });
            }
            while let Some(joined) = set.join_next().await {
                let (i, r) = joined.map_err(|e| e.to_string())?;
                match r.map_err(|e| format!("register: {e}"))? {
                    201 => created += 1,
                    409 => self.sync_ti(base, meters, i).await?,
                    s => {
                        return Err(format!(
                            "registering a meter answered {s}: does the key have the meters scope?"
                        ));
                    }
                }
            }
        }
        Ok(created)
    }

    async fn sync_ti(&self, base: &str, meters: &Meters, i: usize) -> Result<(), String> {
        let Some(pan) = meters.pan(i) else {
            return Ok(());
        };
        let (status, body) = self.get_json(&format!("{base}/v1/meters/{pan}")).await?;
        if status != 200 {
            return Err(format!("GET meter {pan} answered {status}"));
        }
        let m: MeterShape = serde_json::from_value(body).map_err(|e| e.to_string())?;
        let ti = m
            .key
            .ti
            .parse::<u8>()
            .map_err(|_| format!("meter {pan} has TI {:?}", m.key.ti))?;
        meters.set_ti(i, ti);
        Ok(())
    }

    /// Every token of a meter, newest first (all pages).
    pub async fn meter_tokens(&self, base: &str, pan: &str) -> Result<Vec<LedgerToken>, String> {
        let mut out: Vec<LedgerToken> = Vec::new();
        let mut before: Option<i64> = None;
        loop {
            let url = match before {
                Some(b) => format!("{base}/v1/meters/{pan}/tokens?limit=500&before={b}"),
                None => format!("{base}/v1/meters/{pan}/tokens?limit=500"),
            };
            let (status, body) = self.get_json(&url).await?;
            if status != 200 {
                return Err(format!("GET {url} answered {status}: {body}"));
            }
            let page: TokenList = serde_json::from_value(body).map_err(|e| e.to_string())?;
            let n = page.tokens.len();
            before = page.tokens.last().map(|t| t.token_id);
            out.extend(page.tokens);
            if n < 500 {
                return Ok(out);
            }
        }
    }

    /// One issue as the ledger has it (`None`: 404).
    pub async fn issue_record(&self, base: &str, id: i64) -> Result<Option<Ack>, String> {
        let (status, body) = self.get_json(&format!("{base}/v1/issues/{id}")).await?;
        match status {
            200 => serde_json::from_value(body)
                .map(Some)
                .map_err(|e| e.to_string()),
            404 => Ok(None),
            s => Err(format!("GET issue {id} answered {s}: {body}")),
        }
    }

    /// The audit chain's verification.
    pub async fn audit_verify(&self, base: &str) -> Result<AuditState, String> {
        let (status, body) = self.get_json(&format!("{base}/v1/audit/verify")).await?;
        if status != 200 {
            return Err(format!("audit verify answered {status}: {body}"));
        }
        serde_json::from_value(body).map_err(|e| e.to_string())
    }
}
