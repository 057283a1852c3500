"""`folio … --as-user NAME` acts with that user's rights: a write the user's role does not
allow is refused before anything is written, like the API's 403."""

import io

import pytest
from django.core.management import CommandError, call_command, get_commands, load_command_class

from folio.accounts import services
from folio.accounts.models import AuditEntry
from folio.accounts.permission_map import OPERATIONS
from folio.accounts.roles import known_permissions
from folio.catalog.models import Locale, Product
from folio.cli import FolioCommand


def folio_commands():
    for name, app in get_commands().items():
        if app.startswith("folio"):
            command = load_command_class(app, name)
            if isinstance(command, FolioCommand):
                yield name, command


def test_every_permission_a_command_names_exists():
    # the models' permissions, and those the API checks (accounts.* name the user model)
    known = set(known_permissions()) | {p for r in OPERATIONS.values() for p in r.perms}
    named = {
        (name, perm)
        for name, command in folio_commands()
        for needed in command.permissions.values()
        for perm in ((needed,) if isinstance(needed, str) else needed)
    }
    assert len(named) > 30
    assert sorted(p for p in named if p[1] not in known) == []


def run(*args):
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def people(db):
    for role in ("viewer", "catalog_editor", "catalog_manager", "publisher"):
        services.create_user(f"cli-{role}", roles=[role])
    Product.objects.create(sku="CLI-1")


def test_a_viewer_cannot_delete_a_product_from_the_command_line(people):
    entries = AuditEntry.objects.count()
    with pytest.raises(CommandError, match=r"catalog\.delete_product"):
        run("products", "delete", "CLI-1", "--as-user", "cli-viewer")
    assert Product.objects.filter(sku="CLI-1").exists()
    assert AuditEntry.objects.count() == entries
    run("products", "delete", "CLI-1", "--as-user", "cli-catalog_editor")
    assert not Product.objects.filter(sku="CLI-1").exists()
    entry = AuditEntry.objects.order_by("-id").first()
    assert (entry.username, entry.via) == ("cli-catalog_editor", "cli")


def test_structure_changes_need_the_structure_permission(people):
    with pytest.raises(CommandError, match=r"catalog\.add_locale"):
        run("catalog", "locale", "create", "pl_PL", "--as-user", "cli-publisher")
    assert not Locale.objects.filter(code="pl_PL").exists()
    # the structure is a catalog manager's, not every editor's
    with pytest.raises(CommandError, match=r"catalog\.add_locale"):
        run("catalog", "locale", "create", "pl_PL", "--as-user", "cli-catalog_editor")
    run("catalog", "locale", "create", "pl_PL", "--as-user", "cli-catalog_manager")
    assert Locale.objects.filter(code="pl_PL").exists()
    # reading is the view permission: any reading role lists locales
    assert "pl_PL" in run("catalog", "locales", "--as-user", "cli-publisher")


def test_user_administration_is_for_administrators(people):
    with pytest.raises(CommandError, match=r"accounts\.change_user"):
        run("user", "set-roles", "cli-viewer", "--role", "admin", "--as-user", "cli-catalog_editor")
    assert services.user_roles(services.get_user("cli-viewer")) == ["viewer"]


def test_without_as_user_the_operator_acts_with_the_servers_rights(people):
    run("products", "delete", "CLI-1")
    assert not Product.objects.filter(sku="CLI-1").exists()
