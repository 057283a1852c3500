"""A media requirement's version: a PUT that changes one must be based on what is there now, and
one based on a requirement dropped meanwhile does not bring it back."""

import pytest

from folio.errors import StaleWrite
from folio.linking import completeness
from folio.linking.models import MediaRequirement

URL = "/api/v1/catalog/families/bottles/media-requirements/ecommerce/main"
JSON = {"content_type": "application/json"}


def test_a_put_based_on_a_dropped_requirement_does_not_bring_it_back(catalog, api_client):
    admin = api_client("admin")
    created = admin.put(URL, {"min_count": 1}, **JSON)
    assert created.status_code == 200, created.json()
    assert (created.json()["version"], created["ETag"]) == (1, 'W/"1"')
    assert admin.delete(URL, HTTP_IF_MATCH='W/"1"').status_code == 204

    stale = admin.put(URL, {"min_count": 4, "version": 1}, **JSON)
    assert stale.status_code == 409, stale.json()
    assert stale.json()["error"]["details"]["current"] is None
    assert not MediaRequirement.objects.exists()


def test_the_cli_and_other_callers_without_a_version_keep_working(catalog):
    req = completeness.set_requirement("bottles", "ecommerce", "main", min_count=1)
    assert req.version == 1
    assert completeness.set_requirement("bottles", "ecommerce", "main", min_count=2).version == 2
    with pytest.raises(StaleWrite) as stale:
        completeness.set_requirement(
            "bottles", "ecommerce", "main", min_count=5, expected_version=1
        )
    assert stale.value.details["current"]["min_count"] == 2
    with pytest.raises(StaleWrite):
        completeness.remove_requirement("bottles", "ecommerce", "main", expected_version=1)
    completeness.remove_requirement("bottles", "ecommerce", "main")
    assert not MediaRequirement.objects.exists()
