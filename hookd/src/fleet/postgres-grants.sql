-- The least-privilege role hookd's PostgreSQL sink logs in as (docs/fleet.md).
--
-- `INSERT … ON CONFLICT (host, store_id, local_id) DO NOTHING` needs INSERT on the table and
-- SELECT on the conflict target's columns (PostgreSQL checks it; INSERT alone fails with
-- "permission denied"). With SELECT granted on those three columns only, the role cannot
-- read verdicts, summaries or payloads, and it cannot UPDATE, DELETE or TRUNCATE: a
-- compromised laptop can add its own events but not read or erase anyone's (the integration
-- tests check each of these against a real PostgreSQL).
--
-- Create the role first, with a password kept in a 0600 file on each machine
-- (`password_file` in `[sink.NAME]`):
--   CREATE ROLE hookd_writer LOGIN PASSWORD '…';
GRANT USAGE ON SCHEMA public TO hookd_writer;
GRANT INSERT ON hookd_events TO hookd_writer;
GRANT SELECT (host, store_id, local_id) ON hookd_events TO hookd_writer;
