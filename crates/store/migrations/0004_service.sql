-- What the service needs beside the engine: signing people in, connecting through the
-- browser, the admins' settings and the audit log.

-- Sign-in links and browser sessions both map the SHA-256 of a secret to a user until a
-- moment, so they share a table, told apart by kind. As with API tokens, only the hash is
-- kept: a copy of the database signs nobody in.
CREATE TABLE credentials (
    token_sha256  BLOB    PRIMARY KEY,
    kind          TEXT    NOT NULL CHECK (kind IN ('sign_in_link', 'session')),
    user_id       INTEGER NOT NULL REFERENCES users (id),
    expires_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- An OAuth authorization between the redirect to Salesforce and its callback. It is keyed
-- by the hash of its `state` and its PKCE verifier is sealed, so a copy of the database
-- cannot complete it; the row is deleted when the callback takes it, so a `state` works once.
CREATE TABLE pending_connects (
    state_sha256    BLOB    PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    user_id         INTEGER NOT NULL REFERENCES users (id),
    session_sha256  BLOB,
    environment     TEXT    NOT NULL,
    login_url       TEXT    NOT NULL,
    sealed_verifier BLOB    NOT NULL,
    created_at_ms   INTEGER NOT NULL,
    expires_at_ms   INTEGER NOT NULL
) WITHOUT ROWID;

-- Polling settings are columns of the connection, not a table of their own: a reconnect
-- updates the same row in place, so the settings an admin chose survive it, and every
-- connection has them from the start. Defaults: every 5 minutes, half the daily allocation.
ALTER TABLE connections ADD COLUMN polling_interval_secs INTEGER NOT NULL DEFAULT 300;
ALTER TABLE connections ADD COLUMN budget_share_percent INTEGER NOT NULL DEFAULT 50;

-- What people (and sfsync itself, with no user) did to an organization, for its admins.
-- Append-only; read newest first, one organization at a time.
CREATE TABLE audit_log (
    id              INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations (id),
    user_id         INTEGER REFERENCES users (id),
    action          TEXT    NOT NULL,
    detail          TEXT    NOT NULL,
    at_ms           INTEGER NOT NULL
);

CREATE INDEX audit_log_by_organization ON audit_log (organization_id, at_ms, id);

-- One record's history is read by its Id: without this index that view would scan the
-- organization's whole change log.
CREATE INDEX change_events_by_record ON change_events (organization_id, record_id, cursor);
