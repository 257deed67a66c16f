-- Immunis schema 3: SMART Backend Services clients (`immunis client add`)
-- and the client-assertion ids (jti) the token endpoint has seen, so that
-- no assertion is accepted twice on any replica.

CREATE TABLE auth_client (
    id         text    PRIMARY KEY,
    -- Exactly one key source: the JWKS inline (JSON text) or its URL.
    jwks       text,
    jwks_url   text,
    -- The system/ scopes the client may be granted, space-separated.
    scopes     text    NOT NULL,
    disabled   integer NOT NULL DEFAULT 0,
    -- Microseconds since the Unix epoch, as elsewhere in the schema.
    created_at bigint  NOT NULL,
    updated_at bigint  NOT NULL,
    CHECK ((jwks IS NULL) <> (jwks_url IS NULL))
);

-- One row per accepted assertion until it expires; the primary key makes
-- "insert if absent" the atomic replay check.
CREATE TABLE auth_jti (
    client_id  text   NOT NULL,
    jti        text   NOT NULL,
    expires_at bigint NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX auth_jti_expires ON auth_jti (expires_at);
