-- :exact string search now narrows by the normalized value (idx_string_norm)
-- and then compares the exact text, so the separate index on the exact text
-- only cost every write an index insertion per string row.
DROP INDEX idx_string_exact;
