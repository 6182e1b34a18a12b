-- One row per session, upserted in the same transaction as each of its events.
CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    project_dir TEXT,
    started_ms  INTEGER NOT NULL,
    last_ms     INTEGER NOT NULL,
    ended_ms    INTEGER,
    events      INTEGER NOT NULL DEFAULT 0,
    denials     INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX sessions_last ON sessions(last_ms);
INSERT INTO sessions (id, project_dir, started_ms, last_ms, events, denials)
    SELECT session_id, max(project_dir), min(time_ms), max(time_ms), count(*),
           sum(verdict IN ('deny', 'ask'))
    FROM events WHERE session_id IS NOT NULL GROUP BY session_id;
