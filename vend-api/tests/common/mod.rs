//! Shared test harness: a service on a temporary SQLite file with the public sample keys,
//! a manual clock and (for published vectors) a fixed RND, called through the real router
//! with `tower::ServiceExt::oneshot`.
//!
//! The same tests run on PostgreSQL: `vend_api_tests_on_postgres!(test_a, test_b)` at the
//! end of a test file adds `postgres::test_a`…, which run the test with [`start`] building
//! the service on a fresh database of the binary's throwaway cluster ([`pg`]).
#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod pg;

use std::cell::Cell;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use hsm_core::KeyStore;
use serde_json::{Value, json};
use tempfile::TempDir;
use token_codec::Rnd;
use tower::ServiceExt;
use vend_api::apikey::Scopes;
use vend_api::app::{self, App, Deps};
use vend_api::clock::{Clock, FixedRnd, ManualClock, RandomRnd, RndSource};
use vend_api::config::Config;

/// The webhook secret tests configure (under the variable name `TEST_WEBHOOK_SECRET`).
pub const WEBHOOK_SECRET: &str = "test-webhook-secret";

/// The published vectors' meter PAN.
pub const PAN: &str = "600727000000000009";

/// A running test service.
pub struct TestApp {
    pub app: App,
    pub router: Router,
    pub clock: Arc<ManualClock>,
    pub dir: TempDir,
    pub config: Config,
}

/// An answer.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    /// Asserts the status, printing the body on failure.
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        self.body
    }

    /// Asserts an error answer's status, code and field.
    pub fn expect_error(self, status: u16, code: &str, field: Option<&str>) -> Value {
        let b = self.expect(status);
        assert_eq!(b["code"], code, "{b}");
        assert_eq!(b["field"].as_str(), field, "{b}");
        assert!(b["message"].as_str().is_some_and(|m| !m.is_empty()), "{b}");
        b
    }
}

/// The ledger backend [`start`] builds on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's temp dir.
    Sqlite,
    /// A fresh database on the test binary's PostgreSQL cluster.
    Postgres,
}

thread_local! {
    // Tests run one per thread, and `start` is called from the test's own thread.
    static BACKEND: Cell<Backend> = const { Cell::new(Backend::Sqlite) };
}

/// The backend of the test running on this thread.
pub fn backend() -> Backend {
    BACKEND.with(Cell::get)
}

/// Runs a test (a `#[tokio::test]` function) with the PostgreSQL backend, then switches
/// the thread back (with `--test-threads=1` the next test may run on this thread).
pub fn on_postgres(test: fn()) {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BACKEND.with(|b| b.set(Backend::Sqlite));
        }
    }
    BACKEND.with(|b| b.set(Backend::Postgres));
    let _reset = Reset;
    test();
}

/// Adds a `postgres` module running the named tests of this file on PostgreSQL.
#[macro_export]
macro_rules! vend_api_tests_on_postgres {
    ($($name:ident),+ $(,)?) => {
        /// The same tests on a PostgreSQL ledger.
        mod postgres {
            $(
                #[test]
                fn $name() {
                    $crate::common::on_postgres(super::$name)
                }
            )+
        }
    };
}

/// The default test config over a temp dir (rate limits high; tests that need a limit set
/// their own).
pub fn config(dir: &TempDir) -> Config {
    let mut c = Config::default();
    c.database.path = dir.path().join("ledger.sqlite3");
    if backend() == Backend::Postgres {
        c.database.backend = "postgres".into();
        c.database.url = Some(pg::fresh_database());
        c.database.pool_size = 4;
    }
    c.auth.rate_per_sec = 1_000_000.0;
    c.auth.burst = 1_000_000.0;
    c
}

/// Changes a test config before the service is built.
pub type Tweak = Box<dyn FnOnce(&mut Config)>;

/// Builder options.
pub struct Opts {
    pub store: Option<Arc<dyn KeyStore>>,
    pub at: (u16, u8, u8, u8, u8),
    pub rnd5: bool,
    pub tweak: Option<Tweak>,
}

impl Default for Opts {
    fn default() -> Self {
        Self {
            store: None,
            at: (2026, 6, 1, 12, 0),
            rnd5: true,
            tweak: None,
        }
    }
}

/// A service at a civil time with RND 5 and the sample keys.
pub fn start_at(at: (u16, u8, u8, u8, u8)) -> TestApp {
    start(Opts {
        at,
        ..Opts::default()
    })
}

/// A service with options.
pub fn start(o: Opts) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(&dir);
    if let Some(t) = o.tweak {
        t(&mut config);
    }
    let clock = Arc::new(ManualClock::at_civil(o.at.0, o.at.1, o.at.2, o.at.3, o.at.4).unwrap());
    let store = o
        .store
        .unwrap_or_else(|| Arc::new(vend_api::keystore::sample::store().unwrap()));
    let rnd: Arc<dyn RndSource> = if o.rnd5 {
        Arc::new(FixedRnd(Rnd::new(5).unwrap()))
    } else {
        Arc::new(RandomRnd)
    };
    let secret: vend_api::app::SecretLookup =
        Arc::new(|name| (name == "TEST_WEBHOOK_SECRET").then(|| WEBHOOK_SECRET.to_owned()));
    let app = app::build(
        &config,
        Deps {
            keystore: store,
            clock: clock.clone(),
            rnd,
            secret,
        },
    )
    .unwrap();
    let router = app.router();
    TestApp {
        app,
        router,
        clock,
        dir,
        config,
    }
}

impl TestApp {
    /// Moves the clock to a civil minute.
    pub fn set_time(&self, y: u16, mo: u8, d: u8, h: u8, mi: u8) {
        self.clock
            .set(ManualClock::at_civil(y, mo, d, h, mi).unwrap().now());
    }

    /// Creates an API key with these scopes.
    pub async fn key(&self, scopes: &str) -> String {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let name = format!("test-{scopes}-{n}");
        let s = Scopes::parse_list(scopes).unwrap();
        vend_api::cli::create_key(self.app.ledger.as_ref(), &name, s, None)
            .await
            .unwrap()
            .to_string()
    }

    /// An all-scope key.
    pub async fn admin(&self) -> String {
        self.key("vend,manage,key_change,meters,audit").await
    }

    /// Calls the router.
    pub async fn call(
        &self,
        method: &str,
        uri: &str,
        key: Option<&str>,
        idem: Option<&str>,
        body: Option<&Value>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(uri);
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        if let Some(i) = idem {
            b = b.header("idempotency-key", i);
        }
        let req = match body {
            Some(v) => b
                .header("content-type", "application/json")
                .body(Body::from(v.to_string()))
                .unwrap(),
            None => b.body(Body::empty()).unwrap(),
        };
        self.send(req).await
    }

    /// Sends a raw request.
    pub async fn send(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        Resp {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, uri: &str, key: &str) -> Resp {
        self.call("GET", uri, Some(key), None, None).await
    }

    pub async fn post(&self, uri: &str, key: &str, body: &Value) -> Resp {
        self.call("POST", uri, Some(key), None, Some(body)).await
    }

    /// An issuing POST with a fresh idempotency key.
    pub async fn issue(&self, uri: &str, key: &str, body: &Value) -> Resp {
        let idem = format!("idem-{}", rand_u64());
        self.call("POST", uri, Some(key), Some(&idem), Some(body))
            .await
    }

    /// Registers a meter; `key` = (sgc, krn, dkga, base).
    pub async fn register(
        &self,
        admin: &str,
        pan: &str,
        sgc: &str,
        krn: u8,
        dkga: &str,
        base: u16,
    ) -> Value {
        self.post(
            "/v1/meters",
            admin,
            &meter_body(pan, sgc, krn, dkga, base, "07", "ACC-1"),
        )
        .await
        .expect(201)
    }

    /// Issues a credit and returns the body.
    pub async fn credit(
        &self,
        key: &str,
        pan: &str,
        utility: &str,
        unit: &str,
        amount: &str,
    ) -> Resp {
        let body = json!({"utility": utility, "unit": unit, "amount": amount});
        self.issue(&format!("/v1/meters/{pan}/tokens/credit"), key, &body)
            .await
    }
}

pub fn meter_body(
    pan: &str,
    sgc: &str,
    krn: u8,
    dkga: &str,
    base: u16,
    ea: &str,
    customer: &str,
) -> Value {
    json!({"pan": pan, "customer_ref": customer, "sgc": sgc, "ti": "01", "krn": krn, "kt": 2, "ea": ea, "dkga": dkga, "base_date": base})
}

pub fn rand_u64() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(1);
    N.fetch_add(1, Ordering::Relaxed) ^ (std::process::id() as u64) << 32
}

/// The meter PAN (IIN 600727) of DRN body `n` (10 digits), with both Luhn digits right.
pub fn pan_from(n: u64) -> String {
    let body = format!("{n:010}");
    let drn = (0..10)
        .find_map(|d| format!("{body}{d}").parse::<hsm_core::Drn>().ok())
        .unwrap();
    hsm_core::MeterPan::from_drn(drn).to_string()
}

/// The digits of the n-th token of an issue answer.
pub fn digits(body: &Value, n: usize) -> String {
    body["tokens"][n]["digits"].as_str().unwrap().to_owned()
}

/// Dependencies equal to the test app's (sample keys, its clock, random RND, test secret),
/// for building a second app instance that serves on a socket.
pub fn deps(t: &TestApp) -> Deps {
    Deps {
        keystore: Arc::new(vend_api::keystore::sample::store().unwrap()),
        clock: t.clock.clone(),
        rnd: Arc::new(RandomRnd),
        secret: Arc::new(|name| (name == "TEST_WEBHOOK_SECRET").then(|| WEBHOOK_SECRET.to_owned())),
    }
}
