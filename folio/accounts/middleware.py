from django.conf import settings

from folio.accounts.audit import Actor, reset_actor, set_actor


def client_ip(request) -> str | None:
    # X-Forwarded-For is not trusted by default because any client can send it. Only from a
    # proxy the operator named (FOLIO_TRUSTED_PROXIES) is it read: right to left, the first
    # address that is not one of those proxies is the client (entries further left are
    # whatever the client claimed).
    remote = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXIES
    if remote in proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if hop not in proxies:
                return hop
    return remote


class ActorMiddleware:
    """Makes the signed-in web user the actor of every write in the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user if request.user.is_authenticated else None
        token = set_actor(Actor(user=user, via="web", ip=client_ip(request)))
        try:
            return self.get_response(request)
        finally:
            reset_actor(token)
