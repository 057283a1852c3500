from django_tasks import task

from folio.jobs import services


class JobFailed(Exception):
    """The job failed (its Job row says why). Raised so that the task queue records the
    failure too: on RQ, the failed-job registry is then the list of dead jobs."""


@task(takes_context=True)
def run_job(context, job_id: str) -> None:
    worker_ids = context.task_result.worker_ids
    status = services.execute(job_id, worker_ids[-1] if worker_ids else "inline")
    if status == services.Job.Status.FAILED:
        row = services.Job.objects.filter(pk=job_id).values("label", "message").first() or {}
        raise JobFailed(f"{row.get('label')} ({job_id}) failed: {row.get('message')}")
