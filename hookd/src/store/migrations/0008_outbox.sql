-- The outbox (issue 20): the file's identity and one delivery cursor per fleet sink.
-- `store_id` is random and made here, so every new database file gets a new one (a replaced,
-- deleted or quarantined file restarts ids at 1; `(host, store_id, id)` stays unique).
-- `machine_id` is the machine the file was last opened on and `epoch` is bumped when it is
-- opened on another one (a cloned image), so two clones of one file stay apart centrally.
CREATE TABLE fleet_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO fleet_meta (key, value) VALUES
    ('store_id', lower(hex(randomblob(16)))),
    ('epoch', '0');
-- Per sink: the last event id delivered (every id at or below it is stored centrally, or was
-- pruned by the size cap before delivery and counted in `dropped`).
CREATE TABLE sink_cursor (
    sink       TEXT PRIMARY KEY,
    acked_id   INTEGER NOT NULL DEFAULT 0,
    dropped    INTEGER NOT NULL DEFAULT 0,
    updated_ms INTEGER
) WITHOUT ROWID;
