-- What `hookctl events`/`tail` show per event, what redaction removed, and indexes for the
-- query filters.
ALTER TABLE events ADD COLUMN summary TEXT;      -- command / path / prompt excerpt (redacted)
ALTER TABLE events ADD COLUMN redacted TEXT;     -- kinds redacted, comma-separated; NULL if none
CREATE INDEX events_tool ON events(tool, id);
CREATE INDEX events_project ON events(project_dir, id);
