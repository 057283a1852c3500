"""After a crash: a publication whose process was killed is failed, and its destination is
put back as the last recorded publication left it.

A run switches its release in before it records it (runs.py); killed in between, the files
readers see would belong to a publication the database says never finished, and the next
incremental run would compare against listings that do not match them. So the release of a
publication that is not recorded is taken out again, and `current` points at the last
recorded one. Called by the reaper (through jobs' job_died signal) and by the next run of the
feed when it finds the dead one.
"""

import logging

from django.dispatch import receiver
from django.utils import timezone

from folio.jobs.services import job_died
from folio.publishing import destinations
from folio.publishing.models import Publication

log = logging.getLogger("folio.publishing")

UNFINISHED = (Publication.Status.PENDING, Publication.Status.RUNNING)


def abandon(publication: Publication, reason: str) -> bool:
    """Fail an unfinished publication whose process is gone and undo its switch; False if it
    had finished meanwhile (nothing to undo)."""
    failed = Publication.objects.filter(pk=publication.pk, status__in=UNFINISHED).update(
        status=Publication.Status.FAILED, finished_at=timezone.now(), message=reason[:5000]
    )
    if not failed or publication.dry_run:
        return bool(failed)
    last_done = (
        Publication.objects.filter(
            feed_id=publication.feed_id, status=Publication.Status.DONE, dry_run=False
        )
        .order_by("-id")
        .first()
    )
    try:
        destinations.for_feed(publication.feed).recover(publication, last_done)
    except Exception:  # the files stay as they are; the next successful run replaces them
        log.exception("could not undo the release of dead publication %s", publication.pk)
    return True


@receiver(job_died)
def _publication_of_dead_job(sender, job, retrying: bool, **kwargs) -> None:
    if retrying:
        return
    for publication in Publication.objects.filter(job=job, status__in=UNFINISHED).select_related(
        "feed__channel"
    ):
        abandon(
            publication,
            f"interrupted: the worker running it ({job.worker_id}) died; the previous release "
            "stays live; publish again",
        )
