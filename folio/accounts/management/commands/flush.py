"""`folio flush`: Django's flush (empty every table), let past the audit log's append-only
triggers, since wiping the whole database is the one time audit entries may go. Test runs
use it too, to empty the database between tests that commit."""

from django.core.management.commands.flush import Command as DjangoFlush

from folio.accounts.audit import maintenance


class Command(DjangoFlush):
    def handle(self, **options):
        with maintenance(options["database"]):
            return super().handle(**options)
