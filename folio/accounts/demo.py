"""Demo users, one per role, so each team's view of Folio can be tried."""

import secrets

from django.conf import settings

from folio.accounts import services
from folio.accounts.roles import ROLES

DEMO_USERS = {
    "catalog_manager": ("max", "Max Manager"),
    "catalog_editor": ("cora", "Cora Editor"),
    "catalog_reviewer": ("remy", "Remy Reviewer"),
    "asset_manager": ("ada", "Ada Assets"),
    "approver": ("bram", "Bram Brand"),
    "publisher": ("pia", "Pia Publisher"),
    "viewer": ("vic", "Vic Viewer"),
    "agency": ("agnes", "Agnes Agency"),
}
# Approval steps of the demo brand: each step has its own approver group.
DEMO_GROUPS = {"bram": ["brand-approvers", "legal-approvers"]}


def seed(out) -> None:
    missing = [
        (role, u)
        for role, u in DEMO_USERS.items()
        if not services.User.objects.filter(username=u[0]).exists()
    ]
    if not missing:
        return
    password = settings.DEMO_PASSWORD or secrets.token_urlsafe(9)
    for role, (username, full_name) in missing:
        user = services.create_user(
            username,
            roles=[role],
            email=f"{username}@demo.folio.invalid",
            password=password,
            groups=DEMO_GROUPS.get(username, []),
        )
        first, _, last = full_name.partition(" ")
        user.first_name, user.last_name = first, last
        user.save(update_fields=["first_name", "last_name"])
    names = ", ".join(f"{u[0]} ({ROLES[r].label.lower()})" for r, u in missing)
    out.write(f"Demo users: {names}\n")
    if not settings.DEMO_PASSWORD:
        out.write(f"Demo users' password (shown once): {password}\n")
