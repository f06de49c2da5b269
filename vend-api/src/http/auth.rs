//! Authentication, scopes and per-key rate limits.
//!
//! Every route except `/healthz` sits behind [`authenticate`]: no key or an unknown key is
//! 401, a key without the route's scope 403, a key over its rate 429. The scope of each
//! route is in one table, [`access`]; a route missing from it is refused (fail closed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::apikey::{PresentedKey, Scope, Scopes};
use crate::ledger::{Actor, ApiKeyRecord, Ledger};
use crate::metrics::Metrics;
use crate::service::Caller;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Any valid key.
    AnyKey,
    /// A key holding one of these scopes.
    AnyOf(&'static [Scope]),
}

/// The access rule of every authenticated route, by method and route template.
pub fn access(method: &Method, route: &str) -> Option<Access> {
    use Scope::{Audit, KeyChange, Manage, Meters, Vend};
    let get = *method == Method::GET || *method == Method::HEAD;
    let post = *method == Method::POST;
    Some(match route {
        "/openapi.json" if get => Access::AnyKey,
        "/metrics" if get => Access::AnyOf(&[Audit]),
        "/v1/meters" if post => Access::AnyOf(&[Meters]),
        "/v1/meters" if get => Access::AnyOf(&[Meters]),
        "/v1/meters/{pan}" if get => Access::AnyOf(&[Meters, Vend]),
        "/v1/meters/{pan}/replace" if post => Access::AnyOf(&[Meters]),
        "/v1/meters/{pan}/events/low-credit" if post => Access::AnyOf(&[Meters]),
        "/v1/meters/{pan}/tokens" if get => Access::AnyOf(&[Vend]),
        "/v1/meters/{pan}/tokens/credit" if post => Access::AnyOf(&[Vend]),
        "/v1/meters/{pan}/tokens/management" if post => Access::AnyOf(&[Manage]),
        "/v1/meters/{pan}/tokens/engineering" if post => Access::AnyOf(&[Manage]),
        "/v1/meters/{pan}/tokens/key-change" if post => Access::AnyOf(&[KeyChange]),
        "/v1/meters/{pan}/verify" if post => Access::AnyOf(&[Vend, Meters]),
        "/v1/tokens/{token_id}" if get => Access::AnyOf(&[Vend]),
        "/v1/issues/{issue_id}" if get => Access::AnyOf(&[Vend]),
        "/v1/audit" if get => Access::AnyOf(&[Audit]),
        "/v1/audit/verify" if get => Access::AnyOf(&[Audit]),
        _ => return None,
    })
}

/// A token bucket per key.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Rate-limit and key-cache settings.
#[derive(Debug, Clone, Copy)]
pub struct AuthSettings {
    /// Sustained requests per second per key (unless the key has its own rate).
    pub rate_per_sec: f64,
    /// Burst size.
    pub burst: f64,
    /// How long a looked-up key is trusted before it is read again (revocation delay).
    pub cache_ttl: Duration,
}

/// A looked-up key as the cache keeps it: what a request needs, parsed once per lookup
/// rather than once per request.
#[derive(Debug)]
struct CachedKey {
    secret_sha256: [u8; 32],
    revoked: bool,
    caller: Caller,
    rate: Option<f64>,
    fetched: Instant,
}

impl CachedKey {
    fn new(rec: ApiKeyRecord) -> Self {
        let scopes: Scopes = rec
            .scopes
            .iter()
            .filter_map(|s| s.parse::<Scope>().ok())
            .collect();
        Self {
            secret_sha256: rec.secret_sha256,
            revoked: rec.revoked_at.is_some(),
            caller: Caller {
                actor: Actor {
                    api_key_id: rec.id,
                    name: rec.name,
                },
                scopes,
            },
            rate: rec.rate_per_sec,
            fetched: Instant::now(),
        }
    }
}

/// Authentication state shared by all requests.
pub struct Auth {
    ledger: Arc<dyn Ledger>,
    settings: AuthSettings,
    cache: RwLock<HashMap<String, Arc<CachedKey>>>,
    buckets: Mutex<HashMap<i64, Bucket>>,
    metrics: Metrics,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// Authentication over a ledger's keys.
    pub fn new(ledger: Arc<dyn Ledger>, settings: AuthSettings, metrics: Metrics) -> Self {
        Self {
            ledger,
            settings,
            cache: RwLock::new(HashMap::new()),
            buckets: Mutex::new(HashMap::new()),
            metrics,
        }
    }

    async fn lookup(&self, public_id: &str) -> Result<Option<Arc<CachedKey>>, ApiError> {
        if let Ok(cache) = self.cache.read() {
            if let Some(k) = cache.get(public_id) {
                if k.fetched.elapsed() < self.settings.cache_ttl {
                    return Ok(Some(Arc::clone(k)));
                }
            }
        }
        let Some(rec) = self.ledger.api_key(public_id.to_owned()).await? else {
            return Ok(None);
        };
        let key = Arc::new(CachedKey::new(rec));
        if let Ok(mut cache) = self.cache.write() {
            cache.insert(public_id.to_owned(), Arc::clone(&key));
        }
        Ok(Some(key))
    }

    /// Checks a presented key; the caller on success.
    pub async fn caller(&self, text: &str) -> Result<(Caller, Option<f64>), ApiError> {
        let unknown = ApiError::Unauthorized {
            message: "unknown or revoked api key",
        };
        let key = PresentedKey::parse(text).ok_or(ApiError::Unauthorized {
            message: "malformed api key: expected vk_<16 hex>_<64 hex>",
        })?;
        let Some(stored) = self.lookup(&key.public_id).await? else {
            return Err(unknown);
        };
        // The secret is checked on every request (one SHA-256, constant-time compare): the
        // cache holds the stored hash, never a verdict on a presented key.
        if stored.revoked || !key.matches(&stored.secret_sha256) {
            return Err(unknown);
        }
        Ok((stored.caller.clone(), stored.rate))
    }

    /// Takes one request from the key's bucket; `Err(seconds)` to wait if empty.
    pub fn take(&self, key_id: i64, rate: f64) -> Result<(), u64> {
        let rate = if rate > 0.0 {
            rate
        } else {
            self.settings.rate_per_sec
        };
        let burst = self.settings.burst.max(1.0);
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let now = Instant::now();
        let b = buckets.entry(key_id).or_insert(Bucket {
            tokens: burst,
            last: now,
        });
        let refill = now.duration_since(b.last).as_secs_f64() * rate;
        b.tokens = (b.tokens + refill).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - b.tokens) / rate).ceil();
            // `wait` is a small positive number of seconds (rate > 0).
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Err(wait.clamp(1.0, 3600.0) as u64)
        }
    }
}

/// The key from `Authorization: Bearer …` or `X-API-Key`.
fn presented(req: &Request) -> Option<&str> {
    if let Some(v) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let (scheme, rest) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim());
    }
    req.headers()
        .get("x-api-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The middleware: authenticate, authorise for the matched route, rate-limit, and put the
/// [`Caller`] into the request.
pub async fn authenticate(State(auth): State<Arc<Auth>>, mut req: Request, next: Next) -> Response {
    match check(&auth, &mut req).await {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn check(auth: &Auth, req: &mut Request) -> Result<(), ApiError> {
    let text = presented(req).ok_or(ApiError::Unauthorized {
        message: "this endpoint needs an api key: Authorization: Bearer vk_…",
    })?;
    let (caller, rate) = auth.caller(text).await?;
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_default();
    match access(req.method(), &route) {
        Some(Access::AnyKey) => {}
        Some(Access::AnyOf(scopes)) => {
            if !scopes.iter().any(|s| caller.scopes.contains(*s)) {
                let needed = scopes.first().copied().unwrap_or(Scope::Audit);
                return Err(ApiError::Forbidden {
                    needed,
                    what: "call this endpoint",
                });
            }
        }
        None => {
            return Err(ApiError::Forbidden {
                needed: Scope::Audit,
                what: "call an endpoint without an access rule",
            });
        }
    }
    if let Err(retry_after) = auth.take(caller.actor.api_key_id, rate.unwrap_or(0.0)) {
        auth.metrics.rate_limited.inc();
        return Err(ApiError::RateLimited { retry_after });
    }
    tracing::Span::current().record("actor", caller.actor.name.as_str());
    req.extensions_mut().insert(caller);
    Ok(())
}
