"""Built-in recurring jobs; their schedules are rows in jobs.Schedule."""

from folio.jobs.services import job, prune_finished, reap_dead_jobs


@job("Reap jobs of dead workers", schedulable=True)
def reap(ctx):
    return reap_dead_jobs()


@job("Prune finished jobs", schedulable=True)
def prune(ctx, days: int | None = None):
    return prune_finished(days)


@job("Refresh the database's query statistics", schedulable=True)
def optimize_database(ctx):
    """Keep the query planner's statistics current after bulk loads.

    Without them SQLite picks the wrong index for attribute ranges on a large catalog (a list
    filter took 500+ ms instead of tens). `analysis_limit` makes SQLite's ANALYZE sample at
    most 1,000 rows per index, so it takes milliseconds even on millions of rows and can run
    hourly; PostgreSQL's autovacuum analyses too, and ANALYZE here makes it timely after an
    import.
    """
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.execute("ANALYZE")
        else:
            cursor.execute("ANALYZE")
    return {"database": connection.vendor}
