"""Backups, restores and moving an embedded install up to PostgreSQL and object storage.

Operator tools, run from the server's shell (`folio backup`, `folio restore`,
`folio move-up`); docs/operations.md describes them.
"""
