-- Immunis schema 4: Bulk Data $export (bulk package). See the PostgreSQL
-- migration for the design; the embedded store runs in one process with
-- one writer, so the watermark is a plain row.

CREATE TABLE bulk_job (
    id               text    PRIMARY KEY,
    owner            text    NOT NULL DEFAULT '',
    status           text    NOT NULL,
    spec             text    NOT NULL,
    transaction_time bigint  NOT NULL,
    created_at       bigint  NOT NULL,
    updated_at       bigint  NOT NULL,
    expires_at       bigint,
    lease_owner      text,
    lease_until      bigint  NOT NULL DEFAULT 0,
    cursor           text    NOT NULL DEFAULT '',
    progress         text    NOT NULL DEFAULT '',
    attempts         integer NOT NULL DEFAULT 0,
    error            text    NOT NULL DEFAULT ''
);
CREATE INDEX bulk_job_queue ON bulk_job (status, created_at);
CREATE INDEX bulk_job_expires ON bulk_job (expires_at);

CREATE TABLE bulk_file (
    job_id   text    NOT NULL REFERENCES bulk_job (id) ON DELETE CASCADE,
    seq      integer NOT NULL,
    kind     text    NOT NULL,
    type     text    NOT NULL,
    rid_from bigint  NOT NULL,
    rid_to   bigint  NOT NULL,
    count    bigint  NOT NULL,
    body     blob,
    PRIMARY KEY (job_id, seq)
);

-- The write barrier: writes are serialized and stamped inside the write
-- lock, so a stamp at or before the watermark can only come from a clock
-- that went backwards; refuse it rather than let it into a snapshot.
CREATE TABLE bulk_watermark (
    one integer PRIMARY KEY CHECK (one = 1),
    t   bigint  NOT NULL
);
INSERT INTO bulk_watermark (one, t) VALUES (1, 0);

CREATE TRIGGER resource_bulk_stamp_guard_insert BEFORE INSERT ON resource
WHEN NEW.last_updated <= (SELECT t FROM bulk_watermark)
BEGIN
    SELECT RAISE(ABORT, 'last_updated is not after the bulk export watermark');
END;

CREATE TRIGGER resource_bulk_stamp_guard_update BEFORE UPDATE OF last_updated ON resource
WHEN NEW.last_updated <= (SELECT t FROM bulk_watermark)
BEGIN
    SELECT RAISE(ABORT, 'last_updated is not after the bulk export watermark');
END;
