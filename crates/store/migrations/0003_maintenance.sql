-- When the budgeted checks that an incremental read cannot do last ran, per object:
-- getDeleted's coverage, the formula refresh and the Id reconciliation for hard deletes.
ALTER TABLE objects ADD COLUMN deletes_covered_to_ms INTEGER;
ALTER TABLE objects ADD COLUMN formulas_refreshed_at_ms INTEGER;
ALTER TABLE objects ADD COLUMN reconciled_at_ms INTEGER;
