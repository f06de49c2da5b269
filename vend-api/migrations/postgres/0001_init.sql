-- vend-api ledger, PostgreSQL backend, schema version 1: the SQLite schema
-- (migrations/sqlite/0001_init.sql) in PostgreSQL's dialect, plus the audit chain head.
-- Times are Unix seconds (UTC). Amounts are integers of the token's base unit. Every
-- integer is BIGINT so the Rust side binds i64 throughout. JSON is stored as TEXT, not
-- JSONB: JSONB would re-order keys and re-format numbers, and the audit chain hashes the
-- exact text (src/audit.rs).
-- Append-only tables (issues, tokens, audit_log, meter_events) refuse UPDATE, DELETE and
-- TRUNCATE by trigger, so even a bug in the service cannot rewrite history.
-- The runner (src/ledger/postgres/schema.rs) applies this inside one transaction holding
-- pg_advisory_xact_lock, and records it in schema_version.

CREATE TABLE api_keys (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    public_id     TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    scopes        TEXT    NOT NULL,           -- comma-separated scope names
    secret_sha256 BYTEA   NOT NULL CHECK (length(secret_sha256) = 32), -- the key itself is never stored
    rate_per_sec  DOUBLE PRECISION,           -- NULL: the configured default
    created_at    BIGINT  NOT NULL,
    revoked_at    BIGINT,
    CONSTRAINT api_keys_public_id_unique UNIQUE (public_id),
    CONSTRAINT api_keys_name_unique UNIQUE (name)
);

CREATE TABLE meters (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pan            TEXT    NOT NULL,
    customer_ref   TEXT    NOT NULL,
    sgc            BIGINT  NOT NULL,
    ti             BIGINT  NOT NULL,
    krn            BIGINT  NOT NULL,
    kt             BIGINT  NOT NULL,
    ea             BIGINT  NOT NULL,
    dkga           BIGINT  NOT NULL,
    base_date      BIGINT  NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('active', 'retired')),
    replaces_id    BIGINT REFERENCES meters(id),
    replaced_by_id BIGINT REFERENCES meters(id),
    retired_at     BIGINT,
    retire_reason  TEXT,
    created_at     BIGINT  NOT NULL,
    created_by     TEXT    NOT NULL,
    key_changed_at BIGINT,
    CONSTRAINT meters_pan_unique UNIQUE (pan)
);
CREATE INDEX meters_customer_ref ON meters(customer_ref);

-- The last TID issued per meter and base date (TIDs restart from a new base date after a
-- rollover key change). Read only after the meter row is locked.
CREATE TABLE tid_state (
    meter_id  BIGINT NOT NULL REFERENCES meters(id),
    base_date BIGINT NOT NULL,
    last_tid  BIGINT NOT NULL,
    PRIMARY KEY (meter_id, base_date)
);

-- One row per issuing request; the idempotency key is scoped to the API key.
CREATE TABLE issues (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meter_id        BIGINT NOT NULL REFERENCES meters(id),
    kind            TEXT   NOT NULL,
    api_key_id      BIGINT NOT NULL,
    actor           TEXT   NOT NULL,
    idempotency_key TEXT   NOT NULL,
    request_sha256  BYTEA  NOT NULL,
    summary         TEXT   NOT NULL,        -- JSON, never digits
    created_at      BIGINT NOT NULL,
    CONSTRAINT issues_idempotency_unique UNIQUE (api_key_id, idempotency_key)
);
CREATE INDEX issues_meter ON issues(meter_id, id);

CREATE TABLE tokens (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    issue_id   BIGINT NOT NULL REFERENCES issues(id),
    meter_id   BIGINT NOT NULL REFERENCES meters(id),
    position   BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    class      BIGINT NOT NULL,
    subclass   BIGINT NOT NULL,
    tid        BIGINT,
    base_date  BIGINT,
    digits     TEXT   NOT NULL,
    sgc        BIGINT NOT NULL,               -- the key the token is encrypted under
    ti         BIGINT NOT NULL,
    krn        BIGINT NOT NULL,
    kt         BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT tokens_tid_unique UNIQUE (meter_id, base_date, tid),
    CONSTRAINT tokens_position_unique UNIQUE (issue_id, position)
);
CREATE INDEX tokens_meter ON tokens(meter_id, id);
CREATE INDEX tokens_digits ON tokens(digits);

CREATE TABLE meter_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    meter_id    BIGINT NOT NULL REFERENCES meters(id),
    kind        TEXT   NOT NULL,
    details     TEXT   NOT NULL,
    reported_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    actor       TEXT   NOT NULL
);

-- Hash-chained audit log: hash = SHA-256(prev_hash || canonical entry), see src/audit.rs.
-- seq is assigned by the writer from audit_head, never by a sequence: it has no gaps.
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    at        TEXT   NOT NULL,
    actor     TEXT   NOT NULL,
    action    TEXT   NOT NULL,
    subject   TEXT   NOT NULL,
    details   TEXT   NOT NULL,
    prev_hash TEXT   NOT NULL,
    hash      TEXT   NOT NULL
);

-- The chain head, one row. Every transaction that appends to audit_log locks it
-- (SELECT … FOR UPDATE) last, just before commit, and moves it: appends from every
-- instance are serialised here, so chain order is commit order.
CREATE TABLE audit_head (
    id   SMALLINT PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL CHECK (seq >= 0),
    hash TEXT   NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, repeat('0', 64));

-- Durable webhook outbox, written in the same transaction as the event it reports.
-- Claimed with FOR UPDATE SKIP LOCKED plus a lease, so instances never deliver one message
-- concurrently.
CREATE TABLE webhook_outbox (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event           TEXT   NOT NULL,
    payload         TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

CREATE FUNCTION vend_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION vend_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION vend_append_only();
CREATE TRIGGER tokens_append_only BEFORE UPDATE OR DELETE ON tokens
    FOR EACH ROW EXECUTE FUNCTION vend_append_only();
CREATE TRIGGER tokens_no_truncate BEFORE TRUNCATE ON tokens
    FOR EACH STATEMENT EXECUTE FUNCTION vend_append_only();
CREATE TRIGGER issues_append_only BEFORE UPDATE OR DELETE ON issues
    FOR EACH ROW EXECUTE FUNCTION vend_append_only();
CREATE TRIGGER issues_no_truncate BEFORE TRUNCATE ON issues
    FOR EACH STATEMENT EXECUTE FUNCTION vend_append_only();
CREATE TRIGGER meter_events_append_only BEFORE UPDATE OR DELETE ON meter_events
    FOR EACH ROW EXECUTE FUNCTION vend_append_only();
CREATE TRIGGER meter_events_no_truncate BEFORE TRUNCATE ON meter_events
    FOR EACH STATEMENT EXECUTE FUNCTION vend_append_only();
