"""`folio media-requirements list|set|remove` through the same services as the API."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from folio.accounts.models import AuditEntry
from folio.linking.models import MediaRequirement


def folio(*args) -> str:
    out = io.StringIO()
    call_command("media_requirements", *args, stdout=out)
    return out.getvalue()


def test_set_list_and_remove(catalog):
    assert folio("list") == "no media requirements\n"
    out = folio("set", "bottles", "ecommerce", "gallery", "--min-count", "2")
    assert out.split() == ["set", "bottles", "ecommerce", "gallery", "≥", "2"]
    folio("set", "coffee_machines", "marketplace", "main", "--preset", "amazon-main")
    lines = folio("list").splitlines()
    assert [line.split()[:3] for line in lines] == [
        ["bottles", "ecommerce", "gallery"],
        ["coffee_machines", "marketplace", "main"],
    ]
    assert lines[1].endswith("≥ 1 passing amazon-main")
    assert folio("list", "bottles").split()[:3] == ["bottles", "ecommerce", "gallery"]
    # Setting it again changes it; the audit log says the CLI did it.
    folio("set", "bottles", "ecommerce", "gallery", "--min-count", "3")
    assert MediaRequirement.objects.get(family__code="bottles").min_count == 3
    entry = AuditEntry.objects.filter(action="media_requirement.update").latest("pk")
    assert entry.via == "cli"
    assert folio("remove", "bottles", "ecommerce", "gallery").startswith("removed: bottles")
    assert [r.family.code for r in MediaRequirement.objects.all()] == ["coffee_machines"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["set", "nope", "ecommerce", "main"], "no family 'nope'"),
        (["set", "bottles", "nowhere", "main"], "no channel 'nowhere'"),
        (["set", "bottles", "ecommerce", "main", "--min-count", "0"], "min_count"),
        (["set", "bottles", "ecommerce", "main", "--preset", "no-such"], "no-such"),
        (["remove", "bottles", "ecommerce", "main"], "has no main requirement"),
        (["list", "nope"], "no family 'nope'"),
    ],
)
def test_mistakes_are_one_line(catalog, args, message):
    with pytest.raises(CommandError, match=message):
        folio(*args)
    assert not MediaRequirement.objects.exists()
