-- Immunis schema 2: search (index version 2, see search/registry.go).
--
-- Index version 2 moves the :text, :of-type and :identifier token forms to
-- rows of their own and stops giving references to other servers a local
-- id; databases with version-1 rows need `immunis reindex` (the command
-- records the version in setting 'index_version').

-- One type's live resources in rid order, index-only: unfiltered listings,
-- and the searches whose filters all need the resource row (search/plan.go).
CREATE INDEX resource_live ON resource (type, rid) WHERE NOT deleted;

-- Per-resource lookups (the second and later filters of a search, _has,
-- _sort keys, the delete before a rewrite) read (rid, param, value) without
-- touching the heap. They replace the rid-only indexes.
CREATE INDEX idx_token_rid_param ON idx_token (rid, param, code, system);
DROP INDEX idx_token_rid;
CREATE INDEX idx_string_rid_param ON idx_string (rid, param, norm);
DROP INDEX idx_string_rid;
CREATE INDEX idx_date_rid_param ON idx_date (rid, param, lo, hi);
DROP INDEX idx_date_rid;
CREATE INDEX idx_ref_rid_param ON idx_ref (rid, param, ref_type, ref_id);
DROP INDEX idx_ref_rid;
DROP INDEX idx_ref_param;
CREATE INDEX idx_number_rid_param ON idx_number (rid, param, value);
DROP INDEX idx_number_rid;
CREATE INDEX idx_quantity_rid_param ON idx_quantity (rid, param, value);
DROP INDEX idx_quantity_rid;
CREATE INDEX idx_uri_rid_param ON idx_uri (rid, param, uri);
DROP INDEX idx_uri_rid;

-- :exact string matches.
CREATE INDEX idx_string_exact ON idx_string (param, exact, rid);

-- References by URL (other servers, canonicals); most rows have none.
CREATE INDEX idx_ref_url ON idx_ref (param, url, rid) WHERE url <> '';

-- The planner needs to know that a (param, system, code) combination can
-- be common (a vaccine code) although each column alone is not selective
-- the way the product of their frequencies says; without these it
-- mistakes a common code for a rare one and hashes whole index ranges
-- where a nested loop under a LIMIT reads a few dozen rows.
CREATE STATISTICS idx_token_stats (mcv, dependencies) ON param, system, code FROM idx_token;
CREATE STATISTICS idx_ref_stats (mcv, dependencies) ON param, ref_type FROM idx_ref;
CREATE STATISTICS idx_string_stats (mcv, dependencies) ON param, norm FROM idx_string;
