-- Every hook event hookd answered or ingested from the spool.
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    time_ms     INTEGER NOT NULL,            -- when hookd received it (ms since the epoch)
    session_id  TEXT,
    event       TEXT NOT NULL,
    tool        TEXT,
    project_dir TEXT,
    payload     BLOB NOT NULL,               -- the raw bytes Claude Code sent
    verdict     TEXT NOT NULL,               -- allow|deny|ask|defer|block|context|warn|log|none|error|fallback:<mode>
    reason      TEXT,
    rules       TEXT NOT NULL DEFAULT '[]',  -- JSON array of matched rule names
    latency_us  INTEGER NOT NULL,            -- hookd's processing time
    source      TEXT NOT NULL,               -- socket | spool
    spool_id    TEXT                         -- unique id of a spooled record
);
CREATE INDEX events_session ON events(session_id, id);
CREATE INDEX events_event ON events(event, id);
CREATE INDEX events_time ON events(time_ms);
CREATE UNIQUE INDEX events_spool_id ON events(spool_id) WHERE spool_id IS NOT NULL;
