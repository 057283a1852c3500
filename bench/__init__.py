"""Folio's benchmarks: see docs/performance.md and bench/harness.py."""
