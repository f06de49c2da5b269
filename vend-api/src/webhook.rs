//! Webhooks: payloads (built inside the ledger transaction that writes the outbox row),
//! HMAC-SHA-256 signatures, and the background task that delivers the durable outbox with
//! exponential backoff.
//!
//! A receiver checks `X-Vend-Signature: v1=<hex>` against
//! `HMAC-SHA-256(secret, "<X-Vend-Timestamp>.<body>")`, refuses stale timestamps, and
//! deduplicates on `X-Vend-Delivery` (the outbox id): delivery is at least once.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use zeroize::Zeroizing;

use crate::audit::to_hex;
use crate::clock::{Clock, UnixSeconds};
use crate::ledger::{Delivery, Ledger, OutboxMessage};
use crate::metrics::Metrics;

/// Payload builders (shared by every ledger backend).
pub mod payload {
    use serde_json::{Value, json};

    use crate::clock::rfc3339;
    use crate::ledger::{IssueRecord, MeterEventRecord, MeterRecord};
    use crate::redact::masked_digits;

    /// `token.issued`: the issue and its tokens; digits in full only if configured.
    pub fn token_issued(meter: &MeterRecord, issue: &IssueRecord, include_digits: bool) -> Value {
        let tokens: Vec<Value> = issue
            .tokens
            .iter()
            .map(|t| {
                let mut v = json!({
                    "token_id": t.id,
                    "kind": t.token.kind.name(),
                    "tid": t.token.tid.map(|(tid, _)| tid.get()),
                    "digits_masked": masked_digits(&t.token.digits),
                });
                if include_digits {
                    if let Some(o) = v.as_object_mut() {
                        o.insert("digits".into(), t.token.digits.as_str().into());
                    }
                }
                v
            })
            .collect();
        json!({
            "event": "token.issued",
            "meter": meter.pan.to_string(),
            "customer_ref": meter.customer_ref.as_str(),
            "issue_id": issue.id,
            "kind": issue.kind.name(),
            "issued_at": rfc3339(issue.created_at),
            "summary": issue.summary,
            "tokens": tokens,
        })
    }

    /// `meter.<kind>` (e.g. `meter.low_credit`).
    pub fn meter_event(meter: &MeterRecord, ev: &MeterEventRecord) -> Value {
        json!({
            "event": format!("meter.{}", ev.event.kind),
            "meter": meter.pan.to_string(),
            "customer_ref": meter.customer_ref.as_str(),
            "event_id": ev.id,
            "reported_at": rfc3339(ev.event.reported_at),
            "received_at": rfc3339(ev.received_at),
            "details": ev.event.details,
        })
    }
}

/// `v1=<hex of HMAC-SHA-256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &[u8], timestamp: UnixSeconds, body: &[u8]) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1={}", to_hex(&mac.finalize().into_bytes()))
}

/// Delay before attempt `attempt` (1 = first retry): `initial · 2^(attempt−1)`, capped.
pub fn backoff(attempt: u32, initial: Duration, max: Duration) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    initial.saturating_mul(factor).min(max)
}

/// A retry delay spread over `[delay/2, delay]` by `unit` (uniform in `[0, 1)`), so messages
/// that failed together (a receiver outage) are not all retried in the same second; rounded
/// up to whole seconds, the outbox's resolution, and never below 1 s.
pub fn jittered_secs(delay: Duration, unit: f64) -> i64 {
    let half = delay.as_secs_f64() / 2.0;
    let secs = (half + half * unit.clamp(0.0, 1.0)).ceil().max(1.0);
    // Capped to a century before converting: `as` saturates anyway, this makes it exact.
    #[allow(clippy::cast_possible_truncation)]
    let whole = secs.min(3.2e9) as i64;
    whole
}

/// Delivery settings.
#[derive(Clone)]
pub struct WebhookSettings {
    /// Receiver URL.
    pub url: String,
    /// HMAC key.
    pub secret: Arc<Zeroizing<Vec<u8>>>,
    /// Attempts before giving up.
    pub max_attempts: u32,
    /// First retry delay.
    pub initial_backoff: Duration,
    /// Longest retry delay.
    pub max_backoff: Duration,
    /// Per-attempt timeout.
    pub timeout: Duration,
    /// How often to look for due messages when not woken.
    pub poll_interval: Duration,
}

impl std::fmt::Debug for WebhookSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSettings")
            .field("url", &self.url)
            .field("secret", &"<redacted>")
            .field("max_attempts", &self.max_attempts)
            .finish_non_exhaustive()
    }
}

/// The background delivery task.
pub struct Dispatcher {
    ledger: Arc<dyn Ledger>,
    client: reqwest::Client,
    settings: WebhookSettings,
    clock: Arc<dyn Clock>,
    metrics: Metrics,
    wake: Arc<Notify>,
}

impl Dispatcher {
    /// A dispatcher; `wake` is notified after each commit that wrote an outbox row.
    pub fn new(
        ledger: Arc<dyn Ledger>,
        settings: WebhookSettings,
        clock: Arc<dyn Clock>,
        metrics: Metrics,
        wake: Arc<Notify>,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            ledger,
            client,
            settings,
            clock,
            metrics,
            wake,
        })
    }

    /// Delivers until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let this = Arc::new(self);
        loop {
            if *stop.borrow() {
                break;
            }
            loop {
                match this.deliver_due().await {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "webhook outbox unavailable");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = this.wake.notified() => {}
                _ = tokio::time::sleep(this.settings.poll_interval) => {}
                changed = stop.changed() => {
                    // The sender is gone: nobody can stop us any more, so stop now.
                    if changed.is_err() {
                        break;
                    }
                }
            }
        }
    }

    /// Claims and attempts the due messages once; returns how many were attempted.
    pub async fn deliver_due(self: &Arc<Self>) -> Result<usize, crate::ledger::LedgerError> {
        let lease = i64::try_from(self.settings.timeout.as_secs())
            .unwrap_or(60)
            .saturating_add(30);
        let batch = self
            .ledger
            .claim_webhooks(self.clock.now(), 32, lease)
            .await?;
        let n = batch.len();
        let mut set = JoinSet::new();
        for msg in batch {
            let this = Arc::clone(self);
            set.spawn(async move { this.attempt(msg).await });
        }
        while set.join_next().await.is_some() {}
        Ok(n)
    }

    async fn attempt(&self, msg: OutboxMessage) {
        let now = self.clock.now();
        let sig = signature(&self.settings.secret, now, msg.payload.as_bytes());
        let sent = self
            .client
            .post(&self.settings.url)
            .header("content-type", "application/json")
            .header("x-vend-event", &msg.event)
            .header("x-vend-delivery", msg.id.to_string())
            .header("x-vend-timestamp", now.to_string())
            .header("x-vend-signature", sig)
            .body(msg.payload.clone())
            .send()
            .await;
        let error = match sent {
            Ok(r) if r.status().is_success() => None,
            Ok(r) => Some(format!("receiver answered {}", r.status())),
            Err(e) => Some(format!("request failed: {e}")),
        };
        let attempt = msg.attempts.saturating_add(1);
        let outcome = match error {
            None => Delivery::Delivered,
            Some(error) if attempt >= self.settings.max_attempts => Delivery::GaveUp { error },
            Some(error) => {
                let delay = jittered_secs(
                    backoff(
                        attempt,
                        self.settings.initial_backoff,
                        self.settings.max_backoff,
                    ),
                    rand::random::<f64>(),
                );
                Delivery::Retry {
                    at: now.saturating_add(delay),
                    error,
                }
            }
        };
        let label = match &outcome {
            Delivery::Delivered => "delivered",
            Delivery::Retry { .. } => "retry",
            Delivery::GaveUp { .. } => "gave_up",
        };
        self.metrics
            .webhook_deliveries
            .with_label_values(&[label])
            .inc();
        if let Delivery::Retry { error, .. } | Delivery::GaveUp { error } = &outcome {
            tracing::warn!(delivery = msg.id, event = %msg.event, attempt, error = %error, "webhook attempt failed");
        }
        if let Err(e) = self
            .ledger
            .settle_webhook(msg.id, outcome, self.clock.now())
            .await
        {
            // The lease expires and the message is attempted again: at least once.
            tracing::warn!(delivery = msg.id, error = %e, "cannot record webhook outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checked against an HMAC computed independently with Python's `hmac` module:
    /// `hmac.new(b"whsec", b'1700000000.{"a":1}', "sha256").hexdigest()`.
    #[test]
    fn signature_matches_an_independent_hmac() {
        assert_eq!(
            signature(b"whsec", 1_700_000_000, br#"{"a":1}"#),
            "v1=8ad37ba156048ae0e0a5533c75cdf26fee88b07f93cb57ee4c80adb053012032"
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let s = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        let got: Vec<u64> = (1..=8).map(|a| backoff(a, s, cap).as_secs()).collect();
        assert_eq!(got, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff(200, s, cap), cap);
    }

    #[test]
    fn jitter_spreads_over_the_upper_half_in_whole_seconds() {
        let d = Duration::from_secs(60);
        assert_eq!(jittered_secs(d, 0.0), 30);
        assert_eq!(jittered_secs(d, 0.5), 45);
        assert_eq!(jittered_secs(d, 0.999), 60);
        // Sub-second delays still wait a second; out-of-range units are clamped.
        assert_eq!(jittered_secs(Duration::from_millis(300), 0.0), 1);
        assert_eq!(jittered_secs(Duration::from_millis(2_500), 0.2), 2);
        assert_eq!(jittered_secs(d, 7.0), 60);
        assert_eq!(jittered_secs(Duration::MAX, 0.5), 3_200_000_000);
    }
}
