//! Extractors whose rejections use our error shape: JSON bodies (named field, exact serde
//! message), path and query parameters, and the `Idempotency-Key` header.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::audit::canonical_json;
use crate::service::{Caller, Idempotency};

/// A JSON body, deserialised with the field path of any error.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

/// A JSON body of an issuing request, with the SHA-256 of the request (method, path,
/// canonical body) for idempotency: the same body with keys reordered or reformatted is the
/// same request.
#[derive(Debug, Clone)]
pub struct IssueJson<T> {
    /// The body.
    pub body: T,
    /// SHA-256 of `METHOD path\n canonical-json`.
    pub request_sha256: [u8; 32],
}

fn is_json(parts_ct: Option<&header::HeaderValue>) -> bool {
    let Some(ct) = parts_ct.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    if !is_json(req.headers().get(header::CONTENT_TYPE)) {
        return Err(ApiError::UnsupportedMediaType);
    }
    Bytes::from_request(req, state).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::Malformed {
                message: format!("cannot read the body: {}", rej.body_text()),
            }
        }
    })
}

/// Removes serde_json's " at line L column C" suffix (useless for a one-line body).
fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) if msg.get(i..).is_some_and(|t| t.contains(" column ")) => {
            msg.get(..i).unwrap_or(msg).to_owned()
        }
        _ => msg.to_owned(),
    }
}

/// The field a serde error is about: the path, or for unknown/missing fields the path
/// joined with the field named in the message.
fn field_of(path: &str, msg: &str) -> Option<String> {
    let named = ["unknown field `", "missing field `"]
        .iter()
        .find_map(|p| msg.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    let base = if path == "." {
        None
    } else {
        Some(path.to_owned())
    };
    match (base, named) {
        // Some deserializers already put the unknown field in the path.
        (Some(b), Some(n)) if b == n || b.ends_with(&format!(".{n}")) => Some(b),
        (Some(b), Some(n)) => Some(format!("{b}.{n}")),
        (None, Some(n)) => Some(n.to_owned()),
        (b, None) => b,
    }
}

fn data_error(e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let msg = strip_position(&e.inner().to_string());
    match e.inner().classify() {
        serde_json::error::Category::Data => ApiError::Invalid {
            code: "invalid_field",
            field: field_of(&e.path().to_string(), &msg),
            message: msg,
        },
        _ => ApiError::Malformed {
            message: format!("the body is not valid JSON: {msg}"),
        },
    }
}

/// Parses JSON text into `T`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::Malformed {
        message: format!(
            "the body is not valid JSON: {}",
            strip_position(&e.to_string())
        ),
    })?;
    from_value(value)
}

fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    // serde would read a struct from an array too; a body is an object.
    if !value.is_object() {
        return Err(ApiError::Invalid {
            code: "invalid_field",
            field: None,
            message: "the body must be a JSON object".into(),
        });
    }
    serde_path_to_error::deserialize(value).map_err(data_error)
}

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

impl<S, T> FromRequest<S> for IssueJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let line = format!("{} {}\n", req.method(), req.uri().path());
        let bytes = body_bytes(req, state).await?;
        let value: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError::Malformed {
            message: format!(
                "the body is not valid JSON: {}",
                strip_position(&e.to_string())
            ),
        })?;
        let mut h = Sha256::new();
        h.update(line.as_bytes());
        h.update(canonical_json(&value).as_bytes());
        let request_sha256 = h.finalize().into();
        Ok(Self {
            body: from_value(value)?,
            request_sha256,
        })
    }
}

/// A path parameter, as text (handlers parse it into a domain type and name the field).
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| ApiPath(p.0))
            .map_err(|rej| ApiError::Invalid {
                code: "invalid_path",
                field: None,
                message: rej.body_text(),
            })
    }
}

/// Query parameters.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let msg = e.inner().to_string();
                ApiError::Invalid {
                    code: "invalid_query",
                    field: field_of(&e.path().to_string(), &msg),
                    message: msg,
                }
            })
    }
}

/// The `Idempotency-Key` header: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

impl IdempotencyKey {
    /// Pairs the key with a request hash.
    pub fn with(self, request_sha256: [u8; 32]) -> Idempotency {
        Idempotency {
            key: self.0,
            request_sha256,
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let err = |message: &str| ApiError::Header {
            name: "Idempotency-Key",
            message: message.to_owned(),
        };
        let v = parts
            .headers
            .get("idempotency-key")
            .ok_or_else(|| err("every issuing request needs an Idempotency-Key header (e.g. a UUID); retries reuse it"))?;
        let s = v
            .to_str()
            .map_err(|_| err("Idempotency-Key must be visible ASCII"))?;
        if s.is_empty() || s.len() > 255 || !s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(err(
                "Idempotency-Key must be 1 to 255 visible ASCII characters, no spaces",
            ));
        }
        Ok(Self(s.to_owned()))
    }
}

/// The authenticated caller, put in the request by the auth middleware.
#[derive(Debug, Clone)]
pub struct Authenticated(pub Caller);

impl<S: Send + Sync> FromRequestParts<S> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .map(Authenticated)
            .ok_or(ApiError::Unauthorized {
                message: "no api key",
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        krn: i64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        to: Inner,
        amount: String,
    }

    fn err(body: &str) -> (u16, Option<String>, String) {
        let e = parse_json::<Outer>(body.as_bytes()).unwrap_err();
        let b = e.body();
        (e.status().as_u16(), b.field, b.message)
    }

    #[test]
    fn rejections_name_the_field() {
        assert_eq!(
            err(r#"{"to":{"krn":1},"amount":5}"#),
            (
                422,
                Some("amount".into()),
                "invalid type: integer `5`, expected a string".into()
            )
        );
        assert_eq!(
            err(r#"{"to":{"krn":"1"},"amount":"5"}"#).1,
            Some("to.krn".into())
        );
        assert_eq!(
            err(r#"{"to":{"krn":1,"x":2},"amount":"5"}"#).1,
            Some("to.x".into())
        );
        assert_eq!(
            err(r#"{"to":{"krn":1},"amount":"5","y":1}"#).1,
            Some("y".into())
        );
        assert_eq!(err(r#"{"to":{"krn":1}}"#).1, Some("amount".into()));
        assert_eq!(err(r#"{"to":"#).0, 400);
        assert_eq!(
            err("[]"),
            (422, None, "the body must be a JSON object".into())
        );
    }
}
