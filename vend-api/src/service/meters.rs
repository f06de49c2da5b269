//! Meters: registration (checked against the vending key), replacement, reads, and the
//! head-end's low-credit events.

use hsm_core::{MeterIdentity, MeterPan};
use serde_json::json;
use tracing::instrument;

use super::{Caller, LowCredit, VendService};
use crate::http::error::ApiError;
use crate::ledger::{
    CustomerRef, MeterEvent, MeterEventRecord, MeterKey, MeterRecord, NewMeter, ReplaceMeter,
};

impl VendService {
    /// Checks a meter's declared key against the vending key that will serve it.
    fn check_key(&self, pan: MeterPan, key: &MeterKey) -> Result<(), ApiError> {
        let id = MeterIdentity::new(pan, key.sgc, key.ti, key.krn, key.kt);
        let record = self.kit.issuer.key_for(&id)?;
        let mismatch = |field: &str, meter: String, vk: String| {
            ApiError::invalid(
                "key_attribute_mismatch",
                field,
                format!(
                    "the meter declares {field} {meter} but vending key {} has {vk}",
                    record.id
                ),
            )
        };
        if record.dkga != key.dkga {
            return Err(mismatch(
                "dkga",
                key.dkga.to_string(),
                record.dkga.to_string(),
            ));
        }
        if record.ea != key.ea {
            return Err(mismatch("ea", key.ea.to_string(), record.ea.to_string()));
        }
        if record.base_date != key.base_date {
            return Err(mismatch(
                "base_date",
                key.base_date.to_string(),
                record.base_date.to_string(),
            ));
        }
        Ok(())
    }

    /// Registers a meter.
    #[instrument(skip_all, fields(meter = %m.pan))]
    pub async fn register_meter(
        &self,
        caller: &Caller,
        m: NewMeter,
    ) -> Result<MeterRecord, ApiError> {
        self.check_key(m.pan, &m.key)?;
        let rec = self
            .ledger
            .register_meter(m, caller.actor.clone(), self.clock.now())
            .await?;
        tracing::info!(actor = %caller.actor.name, "meter registered");
        Ok(rec)
    }

    /// Replaces a meter: the old one is retired, the new one registered under its customer
    /// reference.
    #[instrument(skip_all, fields(meter = %old))]
    pub async fn replace_meter(
        &self,
        caller: &Caller,
        old: MeterPan,
        new_pan: MeterPan,
        key: MeterKey,
        reason: String,
    ) -> Result<MeterRecord, ApiError> {
        self.check_key(new_pan, &key)?;
        let current = self.meter(old).await?;
        let new = NewMeter {
            pan: new_pan,
            customer_ref: current.customer_ref,
            key,
        };
        let rec = self
            .ledger
            .replace_meter(
                ReplaceMeter { old, new, reason },
                caller.actor.clone(),
                self.clock.now(),
            )
            .await?;
        tracing::info!(new_meter = %rec.pan, "meter replaced");
        Ok(rec)
    }

    /// One meter.
    pub async fn meter(&self, pan: MeterPan) -> Result<MeterRecord, ApiError> {
        self.ledger
            .meter(pan)
            .await?
            .ok_or_else(|| ApiError::NotFound {
                code: "unknown_meter",
                message: format!("no meter {pan} is registered"),
            })
    }

    /// A customer's meters, oldest first (the replacement history).
    pub async fn meters_by_customer(&self, c: CustomerRef) -> Result<Vec<MeterRecord>, ApiError> {
        Ok(self.ledger.meters_by_customer(c).await?)
    }

    /// Records a low-credit event from a head-end.
    #[instrument(skip_all, fields(meter = %pan))]
    pub async fn low_credit(
        &self,
        caller: &Caller,
        pan: MeterPan,
        ev: LowCredit,
    ) -> Result<MeterEventRecord, ApiError> {
        let details = json!({"remaining": ev.remaining, "unit": ev.unit});
        let event = MeterEvent {
            meter: pan,
            kind: "low_credit",
            details,
            reported_at: ev.reported_at,
        };
        let rec = self
            .ledger
            .record_event(event, caller.actor.clone(), self.clock.now())
            .await?;
        if let Some(w) = &self.webhook_wake {
            w.notify_one();
        }
        Ok(rec)
    }
}
