"""The catalog's background jobs (bulk edit, completeness recomputation)."""
