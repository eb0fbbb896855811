-- The first schema of the PostgreSQL store: the same tables as the SQLite store's three
-- migrations, in one. Times are UTC epoch milliseconds, as in sfsync-core.
--
-- Object names compare without ASCII case, as Salesforce API names do (SQLite's COLLATE
-- NOCASE): their unique keys and lookups go through lower(). Record Ids compare with case,
-- byte by byte (COLLATE "C"), as Salesforce orders them; the Id ranges of the hard-delete
-- reconciliation depend on that order, whatever the database's default collation.

CREATE TABLE organizations (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug          TEXT   NOT NULL UNIQUE,
    created_at_ms BIGINT NOT NULL
);

CREATE TABLE users (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    email           TEXT   NOT NULL,
    role            TEXT   NOT NULL CHECK (role IN ('admin', 'member')),
    created_at_ms   BIGINT NOT NULL,
    UNIQUE (organization_id, email)
);

-- Only the SHA-256 of an API token is kept: a stolen database yields no usable token.
CREATE TABLE api_tokens (
    token_sha256  BYTEA  PRIMARY KEY,
    user_id       BIGINT NOT NULL REFERENCES users (id),
    created_at_ms BIGINT NOT NULL
);

-- Polling settings are columns of the connection: a reconnect updates the same row, so the
-- settings an admin chose survive it. Defaults: every 5 minutes, half the daily allocation.
CREATE TABLE connections (
    id                    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id       BIGINT NOT NULL UNIQUE REFERENCES organizations (id),
    environment           TEXT   NOT NULL,
    login_url             TEXT   NOT NULL,
    instance_url          TEXT   NOT NULL,
    salesforce_org_id     TEXT   NOT NULL,
    salesforce_username   TEXT   NOT NULL,
    connected_by          BIGINT NOT NULL REFERENCES users (id),
    connected_at_ms       BIGINT NOT NULL,
    status                TEXT   NOT NULL,
    status_detail         TEXT,
    polling_interval_secs BIGINT NOT NULL DEFAULT 300,
    budget_share_percent  BIGINT NOT NULL DEFAULT 50
);

-- Sealed (encrypted) tokens live apart from the connection row, so that listing connections
-- never reads them.
CREATE TABLE connection_tokens (
    connection_id BIGINT PRIMARY KEY REFERENCES connections (id),
    sealed        BYTEA  NOT NULL
);

CREATE TABLE objects (
    connection_id            BIGINT  NOT NULL REFERENCES connections (id),
    object                   TEXT    NOT NULL,
    selected                 BOOLEAN NOT NULL DEFAULT FALSE,
    projection               TEXT,
    describe_fetched_at_ms   BIGINT,
    cursor_stamp_ms          BIGINT,
    cursor_id                TEXT COLLATE "C",
    load_last_id             TEXT COLLATE "C",
    load_done                BOOLEAN NOT NULL DEFAULT FALSE,
    deletes_covered_to_ms    BIGINT,
    formulas_refreshed_at_ms BIGINT,
    reconciled_at_ms         BIGINT,
    last_run_at_ms           BIGINT,
    last_error               TEXT,
    next_run_at_ms           BIGINT,
    lease_owner              TEXT,
    lease_until_ms           BIGINT,
    lease_epoch              BIGINT  NOT NULL DEFAULT 0
);

CREATE UNIQUE INDEX objects_key ON objects (connection_id, lower(object));

CREATE TABLE snapshots (
    connection_id BIGINT  NOT NULL REFERENCES connections (id),
    object        TEXT    NOT NULL,
    record_id     TEXT    NOT NULL COLLATE "C",
    is_deleted    BOOLEAN NOT NULL,
    fields        TEXT    NOT NULL
);

CREATE UNIQUE INDEX snapshots_key ON snapshots (connection_id, lower(object), record_id);

-- Feed cursors come from this one row, not from a sequence. A page's transaction raises
-- it and holds its row lock until commit, so cursors are handed out in commit order: a
-- reader that has seen cursor N never later sees a new event below N. A sequence hands out
-- values at once, and two pages could then commit in the other order. A rolled-back page
-- rolls the counter back too, so cursors also have no gaps.
CREATE TABLE feed_counter (
    singleton   BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (singleton),
    last_cursor BIGINT  NOT NULL
);

INSERT INTO feed_counter (last_cursor) VALUES (0);

CREATE TABLE change_events (
    cursor          BIGINT PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    connection_id   BIGINT NOT NULL REFERENCES connections (id),
    object          TEXT   NOT NULL,
    record_id       TEXT   NOT NULL COLLATE "C",
    kind            TEXT   NOT NULL,
    changed_at_ms   BIGINT NOT NULL,
    detected_at_ms  BIGINT NOT NULL,
    fields          TEXT   NOT NULL
);

CREATE INDEX change_events_by_organization ON change_events (organization_id, cursor);

-- One record's history is read by its Id: without this index that view would scan the
-- organization's whole change log.
CREATE INDEX change_events_by_record ON change_events (organization_id, record_id, cursor);

CREATE TABLE schema_events (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection_id  BIGINT NOT NULL REFERENCES connections (id),
    object         TEXT   NOT NULL,
    kind           TEXT   NOT NULL,
    field          TEXT,
    detected_at_ms BIGINT NOT NULL
);

CREATE INDEX schema_events_by_object ON schema_events (connection_id, lower(object), id);

CREATE TABLE runs (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection_id  BIGINT NOT NULL REFERENCES connections (id),
    object         TEXT   NOT NULL,
    started_at_ms  BIGINT NOT NULL,
    finished_at_ms BIGINT NOT NULL,
    records_read   BIGINT NOT NULL,
    events         BIGINT NOT NULL,
    api_calls      BIGINT NOT NULL,
    outcome        TEXT   NOT NULL,
    error          TEXT
);

CREATE INDEX runs_by_connection ON runs (connection_id, id);

CREATE TABLE api_calls (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    connection_id BIGINT NOT NULL REFERENCES connections (id),
    at_ms         BIGINT NOT NULL,
    calls         BIGINT NOT NULL,
    org_used      BIGINT,
    org_max       BIGINT
);

CREATE INDEX api_calls_by_time ON api_calls (connection_id, at_ms);

-- Sign-in links and browser sessions both map the SHA-256 of a secret to a user until a
-- moment, so they share a table, told apart by kind. Only the hash is kept.
CREATE TABLE credentials (
    token_sha256  BYTEA  PRIMARY KEY,
    kind          TEXT   NOT NULL CHECK (kind IN ('sign_in_link', 'session')),
    user_id       BIGINT NOT NULL REFERENCES users (id),
    expires_at_ms BIGINT NOT NULL
);

-- An OAuth authorization between the redirect to Salesforce and its callback, keyed by the
-- hash of its `state`, its PKCE verifier sealed; the callback deletes the row it takes.
CREATE TABLE pending_connects (
    state_sha256    BYTEA  PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    user_id         BIGINT NOT NULL REFERENCES users (id),
    session_sha256  BYTEA,
    environment     TEXT   NOT NULL,
    login_url       TEXT   NOT NULL,
    sealed_verifier BYTEA  NOT NULL,
    created_at_ms   BIGINT NOT NULL,
    expires_at_ms   BIGINT NOT NULL
);

-- What people (and sfsync itself, with no user) did to an organization, for its admins.
CREATE TABLE audit_log (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id BIGINT NOT NULL REFERENCES organizations (id),
    user_id         BIGINT REFERENCES users (id),
    action          TEXT   NOT NULL,
    detail          TEXT   NOT NULL,
    at_ms           BIGINT NOT NULL
);

CREATE INDEX audit_log_by_organization ON audit_log (organization_id, at_ms, id);
