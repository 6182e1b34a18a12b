-- Fewer pages touched per event (each index is one more page written per commit):
-- event/tool/project filters scan backwards by id instead; session and time stay indexed
-- (`--session`, `--since`). Session rows are touched at most every 10 s per session; their
-- event and denial counts are computed when listed.
DROP INDEX IF EXISTS events_event;
DROP INDEX IF EXISTS events_tool;
DROP INDEX IF EXISTS events_project;
