//! The STS vending service: a narrow, versioned HTTP API (`/v1/...`) over a token ledger.
//!
//! - [`http`]: axum handlers, one module per resource; [`router`] builds the whole service
//!   so tests need no socket.
//! - [`service`]: `VendService`, the domain operations (no SQL, no crypto outside
//!   [`hsm_core::Issuer`]).
//! - [`ledger`]: the `Ledger` trait and its backends: SQLite (single writer, group commit)
//!   and PostgreSQL (several instances on one database, batched writers).
//! - [`audit`]: the hash-chained audit log. [`webhook`]: signed webhooks from a durable
//!   outbox. [`metrics`]: Prometheus.
//! - [`config`], [`app`], [`cli`]: configuration, wiring, and the command line.
//! - [`harness`]: client-side tooling of the load, crash and HSM-fault harnesses (not used by
//!   the service).
#![forbid(unsafe_code)]

pub mod apikey;
pub mod app;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod harness;
pub mod http;
pub mod keystore;
pub mod ledger;
pub mod metrics;
pub mod redact;
pub mod service;
pub mod webhook;

pub use http::{AppState, router};
