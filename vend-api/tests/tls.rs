//! TLS from config: a self-signed certificate, the service on rustls, a client that trusts
//! only that certificate.
// Tests may unwrap and index: a failing assertion is the point of a test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{Opts, start};
use vend_api::config::TlsConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_https_from_config() {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();

    // A free port (bound and released; the race with other processes is acceptable here).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (c, k) = (cert_path.clone(), key_path.clone());
    let t = start(Opts {
        tweak: Some(Box::new(move |cfg| {
            cfg.server.listen = addr.to_string();
            cfg.server.tls = Some(TlsConfig {
                cert_path: c,
                key_path: k,
            });
        })),
        ..Opts::default()
    });
    t.config.check().unwrap();
    let key = t.admin().await;
    let app = vend_api::app::build(&t.config, common::deps(&t)).unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server =
        tokio::spawn(
            app.serve_tls(addr, cert_path.clone(), key_path.clone(), async move {
                let _ = stopped.await;
            }),
        );

    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://127.0.0.1:{port}/v1/meters/{}", common::PAN);
    let mut status = None;
    for _ in 0..100 {
        match client.get(&url).bearer_auth(&key).send().await {
            Ok(r) => {
                status = Some(r.status().as_u16());
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert_eq!(
        status,
        Some(404),
        "an authenticated https request reaches the handler"
    );
    // Plain HTTP on the TLS port does not get an answer from the API.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await;
    assert!(plain.map(|r| r.status().as_u16() != 200).unwrap_or(true));
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(15), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
