-- Every execution of a `run` rule (one row per attempt).
CREATE TABLE runs (
    id            INTEGER PRIMARY KEY,
    time_ms       INTEGER NOT NULL,   -- when the attempt started (ms since the epoch)
    session_id    TEXT,
    event         TEXT NOT NULL,      -- the hook event that triggered it
    event_time_ms INTEGER NOT NULL,   -- that event's time_ms (its row in `events`)
    tool          TEXT,
    rule          TEXT NOT NULL,
    command       TEXT NOT NULL,      -- redacted
    mode          TEXT NOT NULL,      -- sync | background
    attempt       INTEGER NOT NULL,   -- 1, then 2, 3… for background retries
    duration_ms   INTEGER NOT NULL,
    exit_code     INTEGER,            -- NULL when killed, timed out or not started
    signal        INTEGER,            -- the signal that ended it, if any
    outcome       TEXT NOT NULL,      -- ok | blocked | failed | timeout | cancelled | dropped
    effect        TEXT,               -- its part of the verdict: deny, block, context, none…
    error         TEXT,               -- what went wrong (redacted)
    stdout_tail   TEXT,               -- the last 4 KiB of stdout (redacted)
    stderr_tail   TEXT,               -- the last 4 KiB of stderr (redacted)
    stdout_bytes  INTEGER NOT NULL DEFAULT 0,
    stderr_bytes  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_time ON runs(time_ms);
CREATE INDEX runs_session ON runs(session_id, id);
