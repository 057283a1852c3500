from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from folio.accounts.services import user_roles
from folio.jobs.models import Job


@login_required
def home(request):
    jobs = Job.objects.select_related("created_by")[:10]
    return render(request, "web/home.html", {"roles": user_roles(request.user), "jobs": jobs})
