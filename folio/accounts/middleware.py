from folio.accounts.audit import Actor, reset_actor, set_actor


def client_ip(request) -> str | None:
    # Behind a proxy, the operator sets FOLIO_HTTPS and the proxy's address is what we see;
    # X-Forwarded-For is not trusted by default because any client can send it.
    return request.META.get("REMOTE_ADDR") or None


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
