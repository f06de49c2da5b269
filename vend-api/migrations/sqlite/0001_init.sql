-- vend-api ledger, SQLite backend, schema version 1.
-- Times are Unix seconds (UTC). Amounts are integers of the token's base unit.
-- Append-only tables (issues, tokens, audit_log, meter_events) refuse UPDATE and DELETE by
-- trigger, so even a bug in the service cannot rewrite history.

CREATE TABLE api_keys (
    id            INTEGER PRIMARY KEY,
    public_id     TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL UNIQUE,
    scopes        TEXT    NOT NULL,           -- comma-separated scope names
    secret_sha256 BLOB    NOT NULL,           -- SHA-256 of the secret part; the key itself is never stored
    rate_per_sec  REAL,                       -- NULL: the configured default
    created_at    INTEGER NOT NULL,
    revoked_at    INTEGER
);

CREATE TABLE meters (
    id             INTEGER PRIMARY KEY,
    pan            TEXT    NOT NULL UNIQUE,
    customer_ref   TEXT    NOT NULL,
    sgc            INTEGER NOT NULL,
    ti             INTEGER NOT NULL,
    krn            INTEGER NOT NULL,
    kt             INTEGER NOT NULL,
    ea             INTEGER NOT NULL,
    dkga           INTEGER NOT NULL,
    base_date      INTEGER NOT NULL,
    status         TEXT    NOT NULL CHECK (status IN ('active', 'retired')),
    replaces_id    INTEGER REFERENCES meters(id),
    replaced_by_id INTEGER REFERENCES meters(id),
    retired_at     INTEGER,
    retire_reason  TEXT,
    created_at     INTEGER NOT NULL,
    created_by     TEXT    NOT NULL,
    key_changed_at INTEGER
);
CREATE INDEX meters_customer_ref ON meters(customer_ref);

-- The last TID issued per meter and base date (TIDs restart from a new base date after a
-- rollover key change).
CREATE TABLE tid_state (
    meter_id  INTEGER NOT NULL REFERENCES meters(id),
    base_date INTEGER NOT NULL,
    last_tid  INTEGER NOT NULL,
    PRIMARY KEY (meter_id, base_date)
) WITHOUT ROWID;

-- One row per issuing request; the idempotency key is scoped to the API key.
CREATE TABLE issues (
    id              INTEGER PRIMARY KEY,
    meter_id        INTEGER NOT NULL REFERENCES meters(id),
    kind            TEXT    NOT NULL,
    api_key_id      INTEGER NOT NULL,
    actor           TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL,
    request_sha256  BLOB    NOT NULL,
    summary         TEXT    NOT NULL,        -- JSON, never digits
    created_at      INTEGER NOT NULL,
    UNIQUE (api_key_id, idempotency_key)
);
CREATE INDEX issues_meter ON issues(meter_id, id);

CREATE TABLE tokens (
    id         INTEGER PRIMARY KEY,
    issue_id   INTEGER NOT NULL REFERENCES issues(id),
    meter_id   INTEGER NOT NULL REFERENCES meters(id),
    position   INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    class      INTEGER NOT NULL,
    subclass   INTEGER NOT NULL,
    tid        INTEGER,
    base_date  INTEGER,
    digits     TEXT    NOT NULL,
    sgc        INTEGER NOT NULL,               -- the key the token is encrypted under
    ti         INTEGER NOT NULL,
    krn        INTEGER NOT NULL,
    kt         INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (meter_id, base_date, tid),
    UNIQUE (issue_id, position)
);
CREATE INDEX tokens_meter ON tokens(meter_id, id);
CREATE INDEX tokens_digits ON tokens(digits);

CREATE TABLE meter_events (
    id          INTEGER PRIMARY KEY,
    meter_id    INTEGER NOT NULL REFERENCES meters(id),
    kind        TEXT    NOT NULL,
    details     TEXT    NOT NULL,
    reported_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    actor       TEXT    NOT NULL
);

-- Hash-chained audit log: hash = SHA-256(prev_hash || canonical entry), see src/audit.rs.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        TEXT    NOT NULL,
    actor     TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    subject   TEXT    NOT NULL,
    details   TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);

-- Durable webhook outbox, written in the same transaction as the event it reports.
CREATE TABLE webhook_outbox (
    id              INTEGER PRIMARY KEY,
    event           TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER,
    delivered_at    INTEGER,
    failed_at       INTEGER,
    last_error      TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

CREATE TRIGGER audit_log_append_only_u BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_append_only_d BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER tokens_append_only_u BEFORE UPDATE ON tokens
    BEGIN SELECT RAISE(ABORT, 'tokens is append-only'); END;
CREATE TRIGGER tokens_append_only_d BEFORE DELETE ON tokens
    BEGIN SELECT RAISE(ABORT, 'tokens is append-only'); END;
CREATE TRIGGER issues_append_only_u BEFORE UPDATE ON issues
    BEGIN SELECT RAISE(ABORT, 'issues is append-only'); END;
CREATE TRIGGER issues_append_only_d BEFORE DELETE ON issues
    BEGIN SELECT RAISE(ABORT, 'issues is append-only'); END;
CREATE TRIGGER meter_events_append_only_u BEFORE UPDATE ON meter_events
    BEGIN SELECT RAISE(ABORT, 'meter_events is append-only'); END;
CREATE TRIGGER meter_events_append_only_d BEFORE DELETE ON meter_events
    BEGIN SELECT RAISE(ABORT, 'meter_events is append-only'); END;
