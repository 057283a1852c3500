"""`folio flush`: Django's flush (empty every table), let past the audit log's append-only
triggers, since wiping the whole database is the one time audit entries may go. Test runs
use it too, to empty the database between tests that commit."""

from django.core.management.commands.flush import Command as DjangoFlush
from django.core.management.sql import emit_post_migrate_signal
from django.db import connections

from folio.accounts.audit import maintenance


class Command(DjangoFlush):
    def handle(self, **options):
        database = options["database"]
        connection = connections[database]
        with maintenance(database):
            if (
                connection.vendor == "postgresql"
                and not options["interactive"]
                and not options.get("reset_sequences", True)
                and not options.get("allow_cascade", False)
            ):
                return self._delete_rows(connection, **options)
            return super().handle(**options)

    def _delete_rows(self, connection, *, database, verbosity, **options):
        """Empty the tables that hold rows with DELETE, leave the empty ones alone.

        PostgreSQL's TRUNCATE gives every table and index it empties new files, about a
        second for Folio's ~95 tables however few rows they hold; between tests that commit
        only a few tables hold a few rows. The foreign keys (all deferrable) are checked at
        the commit, when every row is gone, so the order of the DELETEs does not matter. Not
        for a reset of the sequences (TRUNCATE … RESTART IDENTITY), which `folio flush`
        asks for."""
        qn = connection.ops.quote_name
        tables = connection.introspection.django_table_names(
            only_existing=True, include_views=False
        )
        if not tables:
            return
        with connection.cursor() as cursor:
            cursor.execute(
                " UNION ALL ".join(
                    f"SELECT %s WHERE EXISTS (SELECT 1 FROM {qn(table)})"  # noqa: S608
                    for table in tables
                ),
                tables,
            )
            filled = [table for (table,) in cursor.fetchall()]
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for table in filled:
                cursor.execute(f"DELETE FROM {qn(table)}")  # noqa: S608
        if not options.get("inhibit_post_migrate", False):
            emit_post_migrate_signal(verbosity, options["interactive"], database)
