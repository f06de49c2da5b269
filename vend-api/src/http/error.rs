//! The API's one error type and its JSON shape `{code, message, field}`.
//!
//! Every status is chosen in [`ApiError::status`]. A client fault gets its exact message; an
//! internal fault is logged (inside the request's span, so with its request id) and answered
//! generically.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hsm_core::HsmError;
use serde::Serialize;
use token_codec::CodecError;
use utoipa::ToSchema;

use crate::apikey::Scope;
use crate::ledger::{Conflict, LedgerError, MintError};

/// The error body of every 4xx and 5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Machine-readable code, e.g. `invalid_field`, `unknown_meter`.
    pub code: String,
    /// What was wrong, for a person.
    pub message: String,
    /// The request field at fault (a JSON path such as `to.krn`), or null.
    pub field: Option<String>,
}

/// Everything a request can fail with.
#[non_exhaustive]
#[derive(Debug)]
pub enum ApiError {
    /// The body is not JSON, or not the content type JSON (400).
    Malformed {
        /// What was wrong.
        message: String,
    },
    /// A required header is missing or malformed (400).
    Header {
        /// Header name.
        name: &'static str,
        /// What was wrong.
        message: String,
    },
    /// A well-formed request with a value we refuse (422).
    Invalid {
        /// Machine-readable code.
        code: &'static str,
        /// Field at fault.
        field: Option<String>,
        /// What was wrong.
        message: String,
    },
    /// Content type other than JSON (415).
    UnsupportedMediaType,
    /// Body over the configured limit (413).
    PayloadTooLarge,
    /// No key, or an unknown or revoked key (401).
    Unauthorized {
        /// What was wrong.
        message: &'static str,
    },
    /// The key lacks the scope (403).
    Forbidden {
        /// A scope that would allow it.
        needed: Scope,
        /// What was refused.
        what: &'static str,
    },
    /// No such resource (404).
    NotFound {
        /// Machine-readable code.
        code: &'static str,
        /// What was not found.
        message: String,
    },
    /// No such route (404).
    NoRoute,
    /// The route exists with other methods (405).
    MethodNotAllowed,
    /// A conflict with stored state (409).
    Conflict {
        /// Machine-readable code.
        code: &'static str,
        /// What conflicts.
        message: String,
    },
    /// Over the key's rate limit (429).
    RateLimited {
        /// Seconds until a request would pass.
        retry_after: u64,
    },
    /// A dependency (key store, database) is unavailable; retry later (503).
    Unavailable {
        /// Public message.
        message: &'static str,
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The request took longer than the configured timeout (503).
    Timeout,
    /// A bug or an unexpected fault; the detail is logged, not sent (500).
    Internal {
        /// Logged detail.
        detail: String,
    },
}

impl ApiError {
    /// A 422 for one field.
    pub fn invalid(code: &'static str, field: impl Into<String>, message: impl ToString) -> Self {
        Self::Invalid {
            code,
            field: Some(field.into()),
            message: message.to_string(),
        }
    }

    /// The status, chosen here and only here.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Malformed { .. } | Self::Header { .. } => StatusCode::BAD_REQUEST,
            Self::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } | Self::NoRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } | Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body.
    pub fn body(&self) -> ErrorBody {
        let (code, message, field): (&str, String, Option<String>) = match self {
            Self::Malformed { message } => ("malformed_body", message.clone(), None),
            Self::Header { name, message } => {
                ("invalid_header", message.clone(), Some((*name).to_owned()))
            }
            Self::Invalid {
                code,
                field,
                message,
            } => (code, message.clone(), field.clone()),
            Self::UnsupportedMediaType => (
                "unsupported_media_type",
                "the body must be JSON with Content-Type: application/json".into(),
                None,
            ),
            Self::PayloadTooLarge => (
                "payload_too_large",
                "the body is larger than allowed".into(),
                None,
            ),
            Self::Unauthorized { message } => ("unauthorized", (*message).into(), None),
            Self::Forbidden { needed, what } => (
                "forbidden",
                format!("this api key may not {what}: it needs the {needed} scope"),
                None,
            ),
            Self::NotFound { code, message } => (code, message.clone(), None),
            Self::NoRoute => (
                "no_route",
                "no such endpoint; see /openapi.json".into(),
                None,
            ),
            Self::MethodNotAllowed => (
                "method_not_allowed",
                "this endpoint does not take that method; see /openapi.json".into(),
                None,
            ),
            Self::Conflict { code, message } => (code, message.clone(), None),
            Self::RateLimited { retry_after } => (
                "rate_limited",
                format!("rate limit exceeded for this api key; retry in {retry_after} s"),
                None,
            ),
            Self::Unavailable {
                message,
                retry_after,
            } => (
                "unavailable",
                format!("{message}; retry in {retry_after} s with the same Idempotency-Key"),
                None,
            ),
            Self::Timeout => (
                "timeout",
                "the request took too long; retry with the same Idempotency-Key".into(),
                None,
            ),
            Self::Internal { .. } => (
                "internal",
                "internal error; it has been logged".into(),
                None,
            ),
        };
        ErrorBody {
            code: code.to_owned(),
            message,
            field,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            Self::Internal { detail } => tracing::error!(%detail, "internal error"),
            Self::Unavailable { message, .. } => tracing::warn!(%message, "dependency unavailable"),
            _ => tracing::debug!(%status, "request refused"),
        }
        let retry_after = match &self {
            Self::RateLimited { retry_after } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            Self::Timeout => Some(1),
            _ => None,
        };
        let mut resp = (status, Json(self.body())).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// The request field a codec range error is about, for the field of a 422.
fn codec_code(e: &CodecError) -> &'static str {
    match e {
        CodecError::KeyExpired { .. } => "key_expired",
        CodecError::TidOverflow { .. } => "tid_exhausted",
        CodecError::BeforeBaseDate => "before_base_date",
        CodecError::AmountTooLarge { .. } => "amount_too_large",
        _ => "out_of_range",
    }
}

impl From<HsmError> for ApiError {
    fn from(e: HsmError) -> Self {
        let invalid = |code: &'static str, e: &HsmError| Self::Invalid {
            code,
            field: None,
            message: e.to_string(),
        };
        match &e {
            HsmError::Codec(c) => invalid(codec_code(c), &e),
            HsmError::MeterPan(_) => Self::invalid("invalid_pan", "pan", &e),
            HsmError::UnknownVendingKey { .. } => invalid("unknown_vending_key", &e),
            HsmError::MeterKeyMismatch { .. } => invalid("meter_key_mismatch", &e),
            HsmError::OutsideWindow { .. } => invalid("key_window_closed", &e),
            HsmError::AlgorithmChange { .. } | HsmError::BaseDateJump { .. } => {
                invalid("key_change_refused", &e)
            }
            HsmError::KeyWidth { .. }
            | HsmError::Dkga04CommonKey
            | HsmError::UnsupportedDkga { .. }
            | HsmError::DkgaFormat => invalid("unsupported_key", &e),
            // The store is unusable now: a PKCS#11 token pulled, reset or busy, a session
            // gone, the sealed file unreadable, the lock poisoned. 503 with a retry hint,
            // sooner for what hsm-core calls transient.
            HsmError::StorePoisoned
            | HsmError::Pkcs11(_)
            | HsmError::Sealed(_)
            | HsmError::Io { .. }
            | HsmError::Random => {
                tracing::warn!(error = %e, transient = e.is_transient(), "key store fault");
                Self::Unavailable {
                    message: "key store unavailable",
                    retry_after: if e.is_transient() { 1 } else { 30 },
                }
            }
            // Key-management faults cannot come from a vending request: a misconfigured store.
            HsmError::VendingKeyLength { .. }
            | HsmError::SecretHex { .. }
            | HsmError::VendingKeyExists { .. }
            | HsmError::VendingKeyKind { .. }
            | HsmError::Ceremony(_)
            | HsmError::Json { .. }
            | HsmError::KeyIdFormat
            | HsmError::TimeFormat
            | HsmError::WindowOrder { .. }
            | HsmError::SecretEnv { .. }
            | HsmError::EmptySecret { .. }
            | HsmError::KcvUnavailable { .. } => Self::Internal {
                detail: e.to_string(),
            },
            // A variant this build does not know yet: treat it as a store fault, never 500.
            _ => {
                tracing::warn!(error = %e, "unknown key store fault");
                Self::Unavailable {
                    message: "key store unavailable",
                    retry_after: 1,
                }
            }
        }
    }
}

impl From<MintError> for ApiError {
    fn from(e: MintError) -> Self {
        match e {
            MintError::Hsm(h) => h.into(),
            MintError::Tid(c) => Self::Invalid {
                code: codec_code(&c),
                field: None,
                message: MintError::Tid(c).to_string(),
            },
            MintError::Refused {
                code,
                field,
                message,
            } => Self::Invalid {
                code,
                field: field.map(str::to_owned),
                message,
            },
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::MeterNotFound { .. } => Self::NotFound {
                code: "unknown_meter",
                message: e.to_string(),
            },
            LedgerError::MeterRetired { .. } => Self::Conflict {
                code: "meter_retired",
                message: e.to_string(),
            },
            LedgerError::Conflict(c) => {
                let code = match c {
                    Conflict::MeterExists { .. } => "meter_exists",
                    Conflict::IdempotencyKeyReused => "idempotency_key_reused",
                    Conflict::ApiKeyNameTaken { .. } => "api_key_name_taken",
                    _ => "conflict",
                };
                Self::Conflict {
                    code,
                    message: c.to_string(),
                }
            }
            LedgerError::Mint(m) => m.into(),
            LedgerError::Backend { .. } | LedgerError::Closed => {
                tracing::error!(error = %e, "ledger unavailable");
                Self::Unavailable {
                    message: "ledger unavailable",
                    retry_after: 1,
                }
            }
            _ => Self::Internal {
                detail: e.to_string(),
            },
        }
    }
}
