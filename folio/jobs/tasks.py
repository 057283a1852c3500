from django_tasks import task

from folio.jobs import services


@task(takes_context=True)
def run_job(context, job_id: str) -> None:
    worker_ids = context.task_result.worker_ids
    services.execute(job_id, worker_ids[-1] if worker_ids else "inline")
