//! `/healthz`, `/metrics`, `/openapi.json`.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;
use super::error::ErrorBody;

/// Health.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok` or `degraded`.
    pub status: String,
    /// Whether the ledger answers.
    pub ledger: bool,
}

/// Liveness and ledger reachability; the only endpoint without a key.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "OK", body = Health), (status = 503, description = "Ledger unreachable", body = Health)))]
pub async fn healthz(State(s): State<AppState>) -> (StatusCode, Json<Health>) {
    let ledger = s.service.ledger().ping().await.is_ok();
    let status = if ledger {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Health {
            status: if ledger { "ok" } else { "degraded" }.into(),
            ledger,
        }),
    )
}

/// Prometheus metrics (text exposition format).
#[utoipa::path(get, path = "/metrics", tag = "system", security(("api_key" = ["audit"])),
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain"), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn metrics(State(s): State<AppState>) -> Response {
    let mut r = s.metrics.render().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

/// This API's OpenAPI document (generated from the handlers).
#[utoipa::path(get, path = "/openapi.json", tag = "system", security(("api_key" = [])),
    responses((status = 200, description = "OpenAPI 3.1 document", body = Object, content_type = "application/json"), (status = "4XX", description = "Refused: `{code, message, field}` says exactly what was wrong", body = ErrorBody)))]
pub async fn openapi(State(s): State<AppState>) -> Response {
    let mut r = s.openapi.as_ref().clone().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}
