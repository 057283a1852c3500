"""`folio flush` on a whole catalog: both ways of emptying the database (TRUNCATE for the
command line; on PostgreSQL, DELETE of the tables that hold rows between tests that commit)
leave nothing but what migrating puts back."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from folio.accounts.roles import ROLES
from folio.assets.models import AssetVersion
from folio.catalog.models import Product
from folio.linking.models import Link

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "options",
    [{}, {"reset_sequences": False}],
    ids=["folio flush", "between tests that commit"],
)
def test_flush_empties_every_table_of_the_demo_catalog(demo_snapshot, options):
    assert Product.objects.exists() and AssetVersion.objects.exists() and Link.objects.exists()
    if connection.vendor == "postgresql":
        # The demo was written in this test's transaction: its deferred foreign key checks
        # run now, as at the commit a real `folio flush` comes after (TRUNCATE refuses a
        # table with checks pending).
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    call_command("flush", interactive=False, verbosity=0, **options)
    left = {
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and model._default_manager.exists()
    }
    # What post_migrate puts back: the roles' groups, the permissions, the content types.
    assert left == {"auth_group", "auth_permission", "django_content_type"}
    assert set(Group.objects.values_list("name", flat=True)) == set(ROLES)
