-- refresh_views.sql: the reporting schema, its materialized view, and the procedure
-- that refreshes it (what the legacy crontab called with psql every 15 minutes).
--
--   psql -X -v ON_ERROR_STOP=1 -f legacy_scripts/refresh_views.sql
--
-- Safe to run again: every statement is idempotent.

CREATE SCHEMA IF NOT EXISTS reporting;

CREATE TABLE IF NOT EXISTS reporting.events (
    id          bigserial PRIMARY KEY,
    happened_at timestamptz NOT NULL DEFAULT now(),
    kind        text NOT NULL
);

CREATE MATERIALIZED VIEW IF NOT EXISTS reporting.daily_event_counts AS
    SELECT date_trunc('day', happened_at AT TIME ZONE 'UTC')::date AS day, kind, count(*) AS events
      FROM reporting.events
     GROUP BY 1, 2
WITH NO DATA;

CREATE UNIQUE INDEX IF NOT EXISTS daily_event_counts_day_kind
    ON reporting.daily_event_counts (day, kind);

CREATE TABLE IF NOT EXISTS reporting.refresh_log (
    view_name    text NOT NULL,
    refreshed_at timestamptz NOT NULL DEFAULT now(),
    row_count    bigint NOT NULL
);

-- Refresh the view and record it. Raises (and so rolls back, refresh included) when the
-- view would come out empty while events exist: a half-loaded events table must not
-- replace yesterday's good numbers. crontabber keeps the NOTICE as the run's output.
CREATE OR REPLACE PROCEDURE reporting.refresh_views()
LANGUAGE plpgsql AS $$
DECLARE
    refreshed bigint;
BEGIN
    REFRESH MATERIALIZED VIEW reporting.daily_event_counts;
    SELECT count(*) INTO refreshed FROM reporting.daily_event_counts;
    IF refreshed = 0 AND EXISTS (SELECT 1 FROM reporting.events) THEN
        RAISE EXCEPTION 'reporting.daily_event_counts came out empty although events exist';
    END IF;
    INSERT INTO reporting.refresh_log (view_name, row_count)
        VALUES ('reporting.daily_event_counts', refreshed);
    RAISE NOTICE 'reporting.daily_event_counts refreshed: % rows', refreshed;
END
$$;
