from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from folio.accounts.services import user_roles
from folio.jobs.services import visible_jobs


@login_required
def home(request):
    # The same visibility as the API: roles without jobs.view_job see only their own jobs.
    jobs = visible_jobs(request.user).select_related("created_by")[:10]
    return render(request, "web/home.html", {"roles": user_roles(request.user), "jobs": jobs})
