-- Allow-once approvals (`hookctl allow CODE`): who granted what, when, for how long, and how
-- often it was used. `key` is the SHA-256 of the project, tool and normalised command; the
-- command itself is kept only as the redacted `summary`.
CREATE TABLE allowances (
    id           INTEGER PRIMARY KEY,
    code         TEXT NOT NULL,
    key          TEXT NOT NULL,
    project      TEXT NOT NULL,
    tool         TEXT NOT NULL,
    summary      TEXT NOT NULL,
    rules        TEXT NOT NULL,
    scope        TEXT NOT NULL,
    session_id   TEXT,
    created_ms   INTEGER NOT NULL,
    expires_ms   INTEGER,
    max_uses     INTEGER,
    uses         INTEGER NOT NULL DEFAULT 0,
    last_used_ms INTEGER,
    uid          INTEGER NOT NULL,
    user         TEXT NOT NULL,
    revoked_ms   INTEGER
);
CREATE INDEX allowances_created ON allowances (created_ms);
