//! Authentication and scopes on every endpoint of the OpenAPI document, rate limits, and the
//! error shape of malformed requests (never a 5xx).
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use axum::body::Body;
use axum::http::Request;
use common::{Opts, PAN, start, start_at};
use serde_json::json;
use vend_api::apikey::Scope;
use vend_api::http::auth::{Access, access};

fn concrete(path: &str) -> String {
    path.replace("{pan}", PAN)
        .replace("{token_id}", "1")
        .replace("{issue_id}", "1")
}

/// Every operation in the document but /healthz: no key → 401, a key without the scope →
/// 403, and the document and the access table agree.
#[tokio::test]
async fn every_endpoint_refuses_without_key_or_scope() {
    let t = start_at((2026, 6, 1, 12, 0));
    let doc = vend_api::http::openapi();
    let mut checked = 0;
    for (path, item) in &doc.paths.paths {
        let ops = [("GET", item.get.as_ref()), ("POST", item.post.as_ref())];
        for (method, op) in ops.iter().filter_map(|(m, o)| o.map(|o| (*m, o))) {
            let uri = concrete(path);
            if path == "/healthz" {
                t.call(method, &uri, None, None, None).await.expect(200);
                continue;
            }
            let rule = access(&method.parse().unwrap(), path)
                .unwrap_or_else(|| panic!("no access rule for {method} {path}"));
            let body = (method == "POST").then(|| json!({}));
            t.call(method, &uri, None, Some("i"), body.as_ref())
                .await
                .expect_error(401, "unauthorized", None);
            t.call(method, &uri, Some("vk_nonsense"), Some("i"), body.as_ref())
                .await
                .expect_error(401, "unauthorized", None);
            let fake = format!("vk_{}_{}", "0".repeat(16), "0".repeat(64));
            t.call(method, &uri, Some(&fake), Some("i"), body.as_ref())
                .await
                .expect_error(401, "unauthorized", None);
            // The documented security scopes are the ones the table enforces.
            let documented: Vec<String> = op
                .security
                .as_ref()
                .map(|reqs| serde_json::to_value(reqs).unwrap())
                .and_then(|v| v[0]["api_key"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect();
            match rule {
                Access::AnyKey => assert!(documented.is_empty(), "{path}"),
                Access::AnyOf(scopes) => {
                    let names: Vec<&str> = scopes.iter().map(|s| s.name()).collect();
                    assert_eq!(documented, names, "{method} {path}");
                    let others: Vec<&str> = Scope::ALL
                        .iter()
                        .filter(|s| !scopes.contains(s))
                        .map(|s| s.name())
                        .collect();
                    let key = t.key(&others.join(",")).await;
                    let r = t
                        .call(method, &uri, Some(&key), Some("i"), body.as_ref())
                        .await;
                    r.expect_error(403, "forbidden", None);
                    // With the scope, the request passes authentication (whatever it says next).
                    let key = t.key(names[0]).await;
                    let r = t
                        .call(method, &uri, Some(&key), Some("i"), body.as_ref())
                        .await;
                    assert!(
                        ![401, 403].contains(&r.status.as_u16()),
                        "{method} {path}: {:?}",
                        r.body
                    );
                    assert!(r.status.as_u16() < 500, "{method} {path}: {:?}", r.body);
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 16, "only {checked} operations checked");
}

#[tokio::test]
async fn revoked_keys_and_key_in_x_api_key_header() {
    let t = start(Opts {
        tweak: Some(Box::new(|c| c.auth.cache_ttl_secs = 0)),
        ..Opts::default()
    });
    let k = t.key("meters").await;
    let req = Request::builder()
        .uri(format!("/v1/meters/{PAN}"))
        .header("x-api-key", &k)
        .body(Body::empty())
        .unwrap();
    t.send(req).await.expect_error(404, "unknown_meter", None);
    let name = {
        let keys = t.app.ledger.api_keys().await.unwrap();
        keys.into_iter().last().unwrap().name
    };
    assert!(
        t.app
            .ledger
            .revoke_api_key(name, vend_api::ledger::Actor::cli(), 0)
            .await
            .unwrap()
    );
    t.get(&format!("/v1/meters/{PAN}"), &k)
        .await
        .expect_error(401, "unauthorized", None);
}

#[tokio::test]
async fn rate_limit_is_per_key() {
    let t = start(Opts {
        tweak: Some(Box::new(|c| {
            c.auth.rate_per_sec = 0.5;
            c.auth.burst = 2.0;
        })),
        ..Opts::default()
    });
    let a = t.key("meters").await;
    let b = t.key("meters").await;
    let uri = format!("/v1/meters/{PAN}");
    t.get(&uri, &a).await.expect(404);
    t.get(&uri, &a).await.expect(404);
    let r = t.get(&uri, &a).await;
    assert_eq!(r.headers.get("retry-after").unwrap(), "2");
    r.expect_error(429, "rate_limited", None);
    t.get(&uri, &b).await.expect(404);
}

#[tokio::test]
async fn malformed_requests_get_the_error_shape() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    let post = |body: Body, ct: &str| {
        Request::builder()
            .method("POST")
            .uri("/v1/meters")
            .header("authorization", format!("Bearer {k}"))
            .header("content-type", ct)
            .body(body)
            .unwrap()
    };
    t.send(post(Body::from("{\"pan\":"), "application/json"))
        .await
        .expect_error(400, "malformed_body", None);
    t.send(post(
        Body::from("pan=1"),
        "application/x-www-form-urlencoded",
    ))
    .await
    .expect_error(415, "unsupported_media_type", None);
    t.send(post(Body::from(vec![b' '; 70 * 1024]), "application/json"))
        .await
        .expect_error(413, "payload_too_large", None);
    t.send(post(Body::from("[1,2]"), "application/json"))
        .await
        .expect_error(422, "invalid_field", None);
    t.call("GET", "/v1/nothing", Some(&k), None, None)
        .await
        .expect_error(404, "no_route", None);
    t.call("DELETE", "/v1/meters", Some(&k), None, None)
        .await
        .expect_error(405, "method_not_allowed", None);
    let r = t.call("GET", "/healthz", None, None, None).await;
    assert!(r.headers.get("x-request-id").is_some());
    assert_eq!(r.expect(200), json!({"status": "ok", "ledger": true}));
}

#[tokio::test]
async fn metrics_and_openapi() {
    let t = start_at((2026, 6, 1, 12, 0));
    let k = t.admin().await;
    t.register(&k, PAN, "201457", 1, "04", 2014).await;
    t.credit(&k, PAN, "electricity", "kWh", "1")
        .await
        .expect(201);
    let m = t.get("/metrics", &k).await.expect(200);
    let text = m.as_str().unwrap();
    assert!(
        text.contains(r#"vend_tokens_issued_total{kind="credit"} 1"#),
        "{text}"
    );
    assert!(text.contains("vend_http_requests_total{method=\"POST\",route=\"/v1/meters/{pan}/tokens/credit\",status=\"201\"} 1"), "{text}");
    assert!(text.contains("vend_ledger_batch_jobs_count"), "{text}");
    let doc = t
        .get("/openapi.json", &t.key("vend").await)
        .await
        .expect(200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/meters/{pan}/tokens/credit"]["post"].is_object());
    assert!(doc["components"]["securitySchemes"]["api_key"].is_object());
}

vend_api_tests_on_postgres!(revoked_keys_and_key_in_x_api_key_header);
