"""Built-in recurring jobs; their schedules are rows in jobs.Schedule."""

from folio.jobs.services import job, prune_finished, reap_dead_jobs


@job("Reap jobs of dead workers", schedulable=True)
def reap(ctx):
    return reap_dead_jobs()


@job("Prune finished jobs", schedulable=True)
def prune(ctx, days: int | None = None):
    return prune_finished(days)
