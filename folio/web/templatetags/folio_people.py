"""The signed-in user's role for the header ("Role: Catalog editor")."""

from django import template
from django.utils.translation import gettext as _

from folio.accounts.models import TOKEN_PREFIX
from folio.accounts.roles import ROLES

register = template.Library()


@register.simple_tag(takes_context=True)
def your_role(context) -> str:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return ""
    labels = [str(ROLES[g.name].label) for g in user.groups.all() if g.name in ROLES]
    return ", ".join(sorted(labels)) or _("no role")


@register.filter
def token_hint(token) -> str:
    """How a token's text begins (its public id), to tell tokens apart; never the secret."""
    return f"{TOKEN_PREFIX}{token.key_id}_…"
