-- The shared table of postfix-autoblacklist's fleet mode, schema version 1.
-- autoblacklistd runs this text when it connects and finds no schema (all of
-- it is idempotent); or run it yourself to create it with another role, e.g.
--   psql "dbname=mail user=admin" -f fleet-schema.sql
-- then grant the daemons' role SELECT, INSERT, UPDATE, DELETE on bans and
-- USAGE on the sequence autoblacklist_generation.
BEGIN;
-- Two daemons that start at once must not create the schema twice.
SELECT pg_advisory_xact_lock(1633839980);
CREATE TABLE IF NOT EXISTS autoblacklist_schema (version integer NOT NULL);
DO $$
BEGIN
    IF (SELECT max(version) FROM autoblacklist_schema) > 1 THEN
        RAISE EXCEPTION 'the fleet schema is version %, this daemon knows version 1',
            (SELECT max(version) FROM autoblacklist_schema);
    END IF;
END
$$;
-- Every change of a row takes the next generation: a host that was away
-- asks for the rows newer than the last generation it saw.
CREATE SEQUENCE IF NOT EXISTS autoblacklist_generation;
CREATE TABLE IF NOT EXISTS bans (
    network cidr PRIMARY KEY,  -- a host (/32, /128) or a network
    rule text NOT NULL,
    origin text NOT NULL,      -- the host that banned it (or lifted it)
    banned_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,    -- NULL: never
    ban_count integer NOT NULL DEFAULT 1,
    active boolean NOT NULL DEFAULT true,  -- false: lifted, kept until expires_at
    generation bigint NOT NULL DEFAULT nextval('autoblacklist_generation')
);
CREATE INDEX IF NOT EXISTS bans_expires_at ON bans (expires_at);
CREATE INDEX IF NOT EXISTS bans_generation ON bans (generation);
-- One row as the daemons read it, with times relative to the database's
-- clock (the hosts' clocks may differ).
CREATE OR REPLACE FUNCTION autoblacklist_payload(b bans) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT concat_ws(E'\t', b.generation, b.origin, host(b.network) || '/' || masklen(b.network),
        CASE WHEN b.active THEN 't' ELSE 'f' END, b.rule,
        COALESCE(round(extract(epoch FROM b.expires_at - now()) * 1000)::bigint::text, ''),
        b.ban_count, round(extract(epoch FROM now() - b.banned_at) * 1000)::bigint)
$$;
-- Every statement that adds or changes rows tells the listeners, 25 rows a
-- message (a NOTIFY payload holds less than 8000 bytes), one row a line.
CREATE OR REPLACE FUNCTION autoblacklist_notify() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    chunk text;
BEGIN
    FOR chunk IN
        SELECT string_agg(p, E'\n' ORDER BY g, p) FROM (
            SELECT autoblacklist_payload(n) AS p, (row_number() OVER ()) / 25 AS g FROM changed_rows n) s
        GROUP BY g
    LOOP
        PERFORM pg_notify('autoblacklist', chunk);
    END LOOP;
    RETURN NULL;
END
$$;
CREATE OR REPLACE TRIGGER bans_notify_insert AFTER INSERT ON bans
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION autoblacklist_notify();
CREATE OR REPLACE TRIGGER bans_notify_update AFTER UPDATE ON bans
    REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION autoblacklist_notify();
INSERT INTO autoblacklist_schema (version) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM autoblacklist_schema);
COMMIT;
