-- The delivery's identity (hook-client's invocation id, protocol 3). A spooled copy of an event
-- already committed is recognised by it at ingestion, looked up within the event's time window
-- on `events_time`: no index of its own, so nothing more is written per event than the id.
ALTER TABLE events ADD COLUMN client_id TEXT;
