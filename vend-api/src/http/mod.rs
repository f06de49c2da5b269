//! The HTTP layer: one module per resource, the error shape, extractors, authentication,
//! and the router with its middleware and OpenAPI document.

pub mod audit;
pub mod auth;
pub mod error;
pub mod extract;
pub mod issue;
pub mod key_change;
pub mod meters;
pub mod system;
pub mod tokens;
pub mod verify;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::metrics::Metrics;
use crate::service::VendService;
use auth::Auth;
use error::ApiError;

/// Limits applied to every request.
#[derive(Debug, Clone, Copy)]
pub struct HttpSettings {
    /// Whole-request timeout.
    pub timeout: Duration,
    /// Largest request body.
    pub body_limit: usize,
}

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The service.
    pub service: VendService,
    /// Authentication and rate limits.
    pub auth: Arc<Auth>,
    /// Metrics.
    pub metrics: Metrics,
    /// Limits.
    pub settings: HttpSettings,
    /// The OpenAPI document, rendered once (filled in by [`router`]).
    pub openapi: Arc<String>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "vend-api", description = "STS (IEC 62055-41) prepaid token vending. Every endpoint but /healthz needs `Authorization: Bearer <api key>`; issuing endpoints need an `Idempotency-Key` header."),
    modifiers(&BearerAuth),
    tags((name = "meters"), (name = "tokens"), (name = "audit"), (name = "system")),
    components(schemas(error::ErrorBody))
)]
struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(c) = openapi.components.as_mut() {
            c.add_security_scheme(
                "api_key",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(meters::register, meters::list_meters))
        .routes(routes!(meters::get_meter))
        .routes(routes!(meters::replace))
        .routes(routes!(meters::low_credit))
        .routes(routes!(tokens::list_tokens))
        .routes(routes!(issue::credit))
        .routes(routes!(issue::management))
        .routes(routes!(issue::engineering))
        .routes(routes!(key_change::key_change))
        .routes(routes!(tokens::get_token))
        .routes(routes!(tokens::get_issue))
        .routes(routes!(verify::verify))
        .routes(routes!(audit::list))
        .routes(routes!(audit::verify))
        .routes(routes!(system::metrics))
        .routes(routes!(system::openapi))
}

/// The OpenAPI document (also served at `/openapi.json`).
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes()
        .merge(OpenApiRouter::new().routes(routes!(system::healthz)))
        .into_openapi()
}

/// Request ids: a per-process random prefix and a counter (cheap, unique, not guessable
/// across restarts).
#[derive(Clone)]
struct MakeId {
    prefix: Arc<str>,
    next: Arc<AtomicU64>,
}

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _req: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        HeaderValue::from_str(&format!("{}-{n:08x}", self.prefix))
            .ok()
            .map(RequestId::new)
    }
}

async fn record_metrics(State(m): State<Metrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let resp = next.run(req).await;
    m.http_requests
        .with_label_values(&[method.as_str(), route.as_str(), resp.status().as_str()])
        .inc();
    m.http_seconds
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(started.elapsed().as_secs_f64());
    resp
}

async fn timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::Timeout.into_response(),
    }
}

/// The service's router: every route, its middleware and `/openapi.json`.
pub fn router(mut state: AppState) -> Router {
    let (api, doc) = api_routes()
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&state.auth),
            auth::authenticate,
        ))
        .merge(OpenApiRouter::new().routes(routes!(system::healthz)))
        .split_for_parts();
    state.openapi = Arc::new(doc.to_json().unwrap_or_else(|_| String::from("{}")));
    let make_id = MakeId {
        prefix: Arc::from(format!("{:06x}", rand::random::<u32>() & 0xFF_FFFF)),
        next: Arc::new(AtomicU64::new(1)),
    };
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str());
            tracing::info_span!("request", request_id = %id, method = %req.method(), route, actor = tracing::field::Empty)
        })
        .on_response(DefaultOnResponse::new().level(Level::INFO));
    let settings = state.settings;
    let metrics = state.metrics.clone();
    api.fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
        .layer(
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::x_request_id(make_id))
                .layer(trace)
                .layer(PropagateRequestIdLayer::x_request_id())
                // Defence in depth: the crate denies panicking constructs, but a panic that
                // still happens becomes our 500 shape (and a log line), not a dropped connection.
                .layer(CatchPanicLayer::custom(
                    |_: Box<dyn std::any::Any + Send>| {
                        ApiError::Internal {
                            detail: "handler panicked".into(),
                        }
                        .into_response()
                    },
                ))
                .layer(middleware::from_fn_with_state(metrics, record_metrics))
                .layer(middleware::from_fn_with_state(settings.timeout, timeout))
                .layer(DefaultBodyLimit::max(settings.body_limit)),
        )
}
