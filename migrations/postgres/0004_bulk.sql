-- Immunis schema 4: Bulk Data $export (bulk package).
--
-- Jobs and the boundaries of their files live here so that any replica can
-- kick off, run, resume, report and serve any export. Files hold no copies
-- of resources: each is a range of rids of one type in a snapshot, and is
-- regenerated from resource/resource_history when downloaded.

CREATE TABLE bulk_job (
    id               text   PRIMARY KEY,
    -- The client that kicked the export off (empty with authorization off);
    -- only it may poll, download or cancel.
    owner            text   NOT NULL DEFAULT '',
    -- accepted (queued), running, complete, failed.
    status           text   NOT NULL,
    -- The parsed kick-off (bulk.Spec as JSON).
    spec             text   NOT NULL,
    -- The snapshot: every version with last_updated <= transaction_time
    -- and nothing later (microseconds, as elsewhere in the schema).
    transaction_time bigint NOT NULL,
    created_at       bigint NOT NULL,
    updated_at       bigint NOT NULL,
    -- When the files stop being served (set at completion or failure).
    expires_at       bigint,
    -- The worker holding the job and until when; another takes it over
    -- once the lease has run out (a worker that died).
    lease_owner      text,
    lease_until      bigint NOT NULL DEFAULT 0,
    -- The resume point (bulk cursor JSON), committed with the files.
    cursor           text   NOT NULL DEFAULT '',
    progress         text   NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    error            text   NOT NULL DEFAULT ''
);
CREATE INDEX bulk_job_queue ON bulk_job (status, created_at);
CREATE INDEX bulk_job_expires ON bulk_job (expires_at);

-- One row per file of a job's manifest: output files are the resources of
-- one type with rid in (rid_from, rid_to] of the snapshot; error files
-- carry their NDJSON in body.
CREATE TABLE bulk_file (
    job_id   text    NOT NULL REFERENCES bulk_job (id) ON DELETE CASCADE,
    seq      integer NOT NULL,
    kind     text    NOT NULL, -- output, deleted, error
    type     text    NOT NULL,
    rid_from bigint  NOT NULL,
    rid_to   bigint  NOT NULL,
    count    bigint  NOT NULL,
    body     bytea,
    PRIMARY KEY (job_id, seq)
);

-- The write barrier behind consistent snapshots. An export fixes its
-- transaction time T by raising this watermark to T; from then on no
-- version stamped at or before T can be written (the trigger below refuses
-- it with a serialization failure, which the store retries with a fresh
-- stamp), and the export waits for the transactions already past the
-- check. A sequence, not a table, because reading it ignores the reader's
-- snapshot and setting it is visible at once.
CREATE SEQUENCE bulk_watermark MINVALUE 0 START WITH 0;

CREATE FUNCTION bulk_stamp_guard() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    xid xid8;
BEGIN
    -- Take a transaction id before reading the watermark: an export that
    -- raises the watermark after our read then finds us in progress and
    -- waits for us. (Two plain assignments, not queries: plpgsql runs them
    -- in order, and in a microsecond or two per row.)
    xid := pg_current_xact_id();
    -- NULL until the first export: nothing to guard.
    IF NEW.last_updated <= pg_sequence_last_value('bulk_watermark') THEN
        RAISE EXCEPTION 'last_updated % is not after the bulk export watermark', NEW.last_updated
            USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER resource_bulk_stamp_guard
    BEFORE INSERT OR UPDATE OF last_updated ON resource
    FOR EACH ROW EXECUTE FUNCTION bulk_stamp_guard();
