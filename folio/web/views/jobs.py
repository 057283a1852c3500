"""A background job's progress as a page fragment that refreshes itself until the job ends —
the shared component for every long operation started from the UI (bulk edits, renditions,
and later publications and imports)."""

from django.shortcuts import render

from folio.jobs.services import get_job
from folio.web.views.base import page


@page()
def job_progress(request, job_id):
    # get_job applies the same visibility as the API (own jobs unless jobs.view_job).
    job = get_job(job_id, request.user)
    return render(request, "web/jobs/_progress.html", {"job": job})
