-- The first schema of the SQLite store. Times are UTC epoch milliseconds, as in sfsync-core.
-- Object names compare without ASCII case (COLLATE NOCASE), as Salesforce API names do;
-- record Ids compare with case (the default BINARY collation), as Salesforce Ids do.

CREATE TABLE organizations (
    id            INTEGER PRIMARY KEY,
    slug          TEXT    NOT NULL UNIQUE,
    created_at_ms INTEGER NOT NULL
);

CREATE TABLE users (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    email           TEXT    NOT NULL,
    role            TEXT    NOT NULL CHECK (role IN ('admin', 'member')),
    created_at_ms   INTEGER NOT NULL,
    UNIQUE (organization_id, email)
);

-- Only the SHA-256 of an API token is kept: a stolen database yields no usable token.
CREATE TABLE api_tokens (
    token_sha256  BLOB    PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id),
    created_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE connections (
    id                  INTEGER PRIMARY KEY,
    organization_id     INTEGER NOT NULL UNIQUE REFERENCES organizations (id),
    environment         TEXT    NOT NULL,
    login_url           TEXT    NOT NULL,
    instance_url        TEXT    NOT NULL,
    salesforce_org_id   TEXT    NOT NULL,
    salesforce_username TEXT    NOT NULL,
    connected_by        INTEGER NOT NULL REFERENCES users (id),
    connected_at_ms     INTEGER NOT NULL,
    status              TEXT    NOT NULL,
    status_detail       TEXT
);

-- Sealed (encrypted) tokens live apart from the connection row, so that listing connections
-- never reads them.
CREATE TABLE connection_tokens (
    connection_id INTEGER PRIMARY KEY REFERENCES connections (id),
    sealed        BLOB    NOT NULL
);

CREATE TABLE objects (
    connection_id          INTEGER NOT NULL REFERENCES connections (id),
    object                 TEXT    NOT NULL COLLATE NOCASE,
    selected               INTEGER NOT NULL DEFAULT 0,
    projection             TEXT,
    describe_fetched_at_ms INTEGER,
    cursor_stamp_ms        INTEGER,
    cursor_id              TEXT,
    load_last_id           TEXT,
    load_done              INTEGER NOT NULL DEFAULT 0,
    last_run_at_ms         INTEGER,
    last_error             TEXT,
    next_run_at_ms         INTEGER,
    lease_owner            TEXT,
    lease_until_ms         INTEGER,
    lease_epoch            INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (connection_id, object)
) WITHOUT ROWID;

CREATE TABLE snapshots (
    connection_id INTEGER NOT NULL REFERENCES connections (id),
    object        TEXT    NOT NULL COLLATE NOCASE,
    record_id     TEXT    NOT NULL,
    is_deleted    INTEGER NOT NULL,
    fields        TEXT    NOT NULL,
    PRIMARY KEY (connection_id, object, record_id)
) WITHOUT ROWID;

-- AUTOINCREMENT, not a plain rowid: a plain rowid may reuse the number of a deleted last
-- row, and a feed cursor handed out once must never name another event.
CREATE TABLE change_events (
    cursor          INTEGER PRIMARY KEY AUTOINCREMENT,
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    connection_id   INTEGER NOT NULL REFERENCES connections (id),
    object          TEXT    NOT NULL,
    record_id       TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    changed_at_ms   INTEGER NOT NULL,
    detected_at_ms  INTEGER NOT NULL,
    fields          TEXT    NOT NULL
);

CREATE INDEX change_events_by_organization ON change_events (organization_id, cursor);

CREATE TABLE schema_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    connection_id  INTEGER NOT NULL REFERENCES connections (id),
    object         TEXT    NOT NULL COLLATE NOCASE,
    kind           TEXT    NOT NULL,
    field          TEXT,
    detected_at_ms INTEGER NOT NULL
);

CREATE INDEX schema_events_by_object ON schema_events (connection_id, object, id);

CREATE TABLE runs (
    id             INTEGER PRIMARY KEY,
    connection_id  INTEGER NOT NULL REFERENCES connections (id),
    object         TEXT    NOT NULL COLLATE NOCASE,
    started_at_ms  INTEGER NOT NULL,
    finished_at_ms INTEGER NOT NULL,
    records_read   INTEGER NOT NULL,
    events         INTEGER NOT NULL,
    api_calls      INTEGER NOT NULL,
    outcome        TEXT    NOT NULL,
    error          TEXT
);

CREATE INDEX runs_by_connection ON runs (connection_id, id);

CREATE TABLE api_calls (
    id            INTEGER PRIMARY KEY,
    connection_id INTEGER NOT NULL REFERENCES connections (id),
    at_ms         INTEGER NOT NULL,
    calls         INTEGER NOT NULL,
    org_used      INTEGER,
    org_max       INTEGER
);

CREATE INDEX api_calls_by_time ON api_calls (connection_id, at_ms);
