-- Immunis schema 1: current versions, past versions, typed index rows.
-- Times are microseconds since the Unix epoch (UTC) in bigint columns, the
-- same representation as the embedded store, so search SQL is one shape.

-- The current version of every resource (deleted ones keep a tombstone row).
CREATE TABLE resource (
    rid          bigserial PRIMARY KEY,
    type         text    NOT NULL,
    id           text    NOT NULL,
    version      bigint  NOT NULL,
    last_updated bigint  NOT NULL,
    deleted      boolean NOT NULL DEFAULT false,
    method       text    NOT NULL,
    content      jsonb,
    UNIQUE (type, id)
);
CREATE INDEX resource_type_updated ON resource (type, last_updated);
CREATE INDEX resource_updated ON resource (last_updated);

-- Every earlier version; the current one lives in resource.
CREATE TABLE resource_history (
    rid          bigint  NOT NULL,
    version      bigint  NOT NULL,
    type         text    NOT NULL,
    id           text    NOT NULL,
    last_updated bigint  NOT NULL,
    deleted      boolean NOT NULL,
    method       text    NOT NULL,
    content      jsonb,
    PRIMARY KEY (rid, version)
);
CREATE INDEX resource_history_type_updated ON resource_history (type, last_updated);
CREATE INDEX resource_history_updated ON resource_history (last_updated);

-- Index rows of current, non-deleted versions. "param" is search.ParamID
-- (a stable hash of type and code). Covering indexes end in rid so the
-- usual lookups are index-only scans.
CREATE TABLE idx_token (
    rid    bigint  NOT NULL,
    param  integer NOT NULL,
    system text    COLLATE "C" NOT NULL DEFAULT '',
    code   text    COLLATE "C" NOT NULL DEFAULT '',
    text   text    COLLATE "C" NOT NULL DEFAULT ''
);
CREATE INDEX idx_token_code ON idx_token (param, code, system, rid);
CREATE INDEX idx_token_rid ON idx_token (rid);

CREATE TABLE idx_string (
    rid   bigint  NOT NULL,
    param integer NOT NULL,
    norm  text    COLLATE "C" NOT NULL,
    exact text    COLLATE "C" NOT NULL
);
CREATE INDEX idx_string_norm ON idx_string (param, norm, rid);
CREATE INDEX idx_string_rid ON idx_string (rid);

CREATE TABLE idx_date (
    rid   bigint  NOT NULL,
    param integer NOT NULL,
    lo    bigint  NOT NULL,
    hi    bigint  NOT NULL
);
CREATE INDEX idx_date_lo ON idx_date (param, lo, hi, rid);
CREATE INDEX idx_date_hi ON idx_date (param, hi, lo, rid);
CREATE INDEX idx_date_rid ON idx_date (rid);

CREATE TABLE idx_ref (
    rid      bigint  NOT NULL,
    param    integer NOT NULL,
    ref_type text    COLLATE "C" NOT NULL DEFAULT '',
    ref_id   text    COLLATE "C" NOT NULL DEFAULT '',
    url      text    COLLATE "C" NOT NULL DEFAULT ''
);
-- Serves search (param = P and target = X) and the reverse lookup of
-- referential integrity (who points at X).
CREATE INDEX idx_ref_target ON idx_ref (ref_id, ref_type, param, rid);
CREATE INDEX idx_ref_param ON idx_ref (param, rid);
CREATE INDEX idx_ref_rid ON idx_ref (rid);

CREATE TABLE idx_number (
    rid   bigint  NOT NULL,
    param integer NOT NULL,
    value double precision NOT NULL,
    lo    double precision NOT NULL,
    hi    double precision NOT NULL
);
CREATE INDEX idx_number_value ON idx_number (param, value, rid);
CREATE INDEX idx_number_rid ON idx_number (rid);

CREATE TABLE idx_quantity (
    rid    bigint  NOT NULL,
    param  integer NOT NULL,
    system text    COLLATE "C" NOT NULL DEFAULT '',
    code   text    COLLATE "C" NOT NULL DEFAULT '',
    value  double precision NOT NULL,
    lo     double precision NOT NULL,
    hi     double precision NOT NULL
);
CREATE INDEX idx_quantity_value ON idx_quantity (param, value, rid);
CREATE INDEX idx_quantity_rid ON idx_quantity (rid);

CREATE TABLE idx_uri (
    rid   bigint  NOT NULL,
    param integer NOT NULL,
    uri   text    COLLATE "C" NOT NULL
);
CREATE INDEX idx_uri_uri ON idx_uri (param, uri, rid);
CREATE INDEX idx_uri_rid ON idx_uri (rid);

-- Patient compartment membership (CompartmentDefinition "patient").
CREATE TABLE compartment (
    rid        bigint NOT NULL,
    patient_id text   COLLATE "C" NOT NULL
);
CREATE INDEX compartment_patient ON compartment (patient_id, rid);
CREATE INDEX compartment_rid ON compartment (rid);

-- Small server settings, e.g. the version of the index rows (see reindex).
CREATE TABLE setting (
    key   text PRIMARY KEY,
    value text NOT NULL
);
