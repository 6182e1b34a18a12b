-- hookd's central event table for the PostgreSQL sink (docs/fleet.md, issue 20).
--
-- Every hookd that forwards to PostgreSQL inserts its stored, already-redacted events here with
-- one `INSERT … SELECT FROM unnest(…) ON CONFLICT (host, store_id, local_id) DO NOTHING` per
-- batch. Delivery is at least once (a batch whose acknowledgement was lost is sent again with
-- the same keys) and the primary key makes it exactly once here.
--
-- Apply it as a role that may create tables: `hookctl sink init pg` does (with an admin URL),
-- or `hookctl sink init pg --print | psql …`. Names: `hookctl sink init pg` substitutes the
-- sink's `schema` and `table` for `hookd_events` (and the index names derived from it).
-- Re-applying it is harmless (IF NOT EXISTS everywhere).

CREATE TABLE IF NOT EXISTS hookd_events (
    -- The idempotency key: `[fleet] host`, the local store file's identity (new for every new
    -- database file) and the event's id in that file (monotonic for the file's life).
    host        text        NOT NULL,
    store_id    text        NOT NULL,
    local_id    bigint      NOT NULL,
    -- Bumped when the store file shows up on another machine id (a cloned image).
    epoch       integer     NOT NULL DEFAULT 0,
    -- When hookd received the event.
    time        timestamptz NOT NULL,
    session_id  text,
    -- The hook event: PreToolUse, PostToolUse, UserPromptSubmit, Stop, …
    event       text        NOT NULL,
    tool        text,
    -- The project directory the session runs in.
    project     text,
    -- allow, deny, ask, block, context, none, error, fallback:<mode>, …
    verdict     text        NOT NULL,
    reason      text,
    -- Names of the rules that matched.
    rules       text[]      NOT NULL DEFAULT '{}',
    -- hookd's processing time for the event, in microseconds.
    latency_us  bigint      NOT NULL,
    -- socket, http or spool.
    source      text        NOT NULL,
    -- Command / path / prompt excerpt, redacted.
    summary     text,
    -- Kinds of secret redacted from the event.
    redacted    text[]      NOT NULL DEFAULT '{}',
    -- From the payload, under the names Claude Code's own OpenTelemetry events use.
    prompt_id   text,
    tool_use_id text,
    -- The uid of the user whose hookd stored it.
    uid         bigint      NOT NULL,
    -- `[fleet] labels`.
    labels      jsonb       NOT NULL DEFAULT '{}',
    -- The redacted hook payload, only from sinks configured with `payload = true`.
    payload     jsonb,
    -- When this row arrived here (the forwarding delay is received_at - time).
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host, store_id, local_id)
);

-- Dashboards and searches go by time, and by session in time order.
CREATE INDEX IF NOT EXISTS hookd_events_time_idx ON hookd_events (time);
CREATE INDEX IF NOT EXISTS hookd_events_session_idx ON hookd_events (session_id, time);
