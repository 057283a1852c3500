"""Shared fixtures: users of each role, API clients authenticated by real tokens."""

import pytest
from django.test import Client

from folio.accounts import services
from folio.accounts.roles import ROLES


@pytest.fixture
def make_user(db):
    def make(role: str, username: str | None = None, password: str = "correct-horse-battery-9"):
        return services.create_user(username or f"{role}-user", roles=[role], password=password)

    return make


@pytest.fixture
def api_client(make_user):
    """api_client("viewer") → a Django test client sending that role's fresh API token."""

    def make(role: str = "admin"):
        user = make_user(role, f"api-{role}")
        _, text = services.create_token(user, f"{role} test token")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {text}")
        client.user = user
        client.token_text = text
        return client

    return make


@pytest.fixture(params=sorted(ROLES))
def each_role(request):
    return request.param
