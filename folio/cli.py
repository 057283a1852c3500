"""The `folio` command: Django's management commands, with Folio's own in each app.

`folio user create`, `folio token list`, `folio seed-demo`… Dashes in a command's name map to
the underscores of its module. User mistakes print one line and exit non-zero, never a
traceback.
"""

import argparse
import os
import sys
import time
from collections.abc import Iterable, Iterator

from django.core.checks import Tags
from django.core.management.base import BaseCommand, CommandError

# The system checks a command runs before it starts: all but the URL checks. Those import
# the whole web site and REST API to validate the URL configuration, about half of a
# command's start, for pages the command never serves. `folio serve`, `folio check` and
# `folio migrate` still run them.
COMMAND_CHECKS = [tag for name, tag in vars(Tags).items() if not name.startswith("_")]
COMMAND_CHECKS.remove(Tags.urls)


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "folio.settings")
    argv = list(sys.argv if argv is None else argv)
    argv[0] = "folio"
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import DatabaseError

    try:
        execute_from_command_line(argv)
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"folio: configuration error: {exc}\n")
        sys.exit(2)
    except DatabaseError as exc:
        # A server that is down or a database never migrated is an operator's matter, not a
        # bug: say what and what to do, without a traceback.
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        hint = (
            " (run `folio migrate` first)"
            if "no such table" in first or "does not exist" in first
            else " (is FOLIO_DATABASE_URL right and the server running?)"
        )
        sys.stderr.write(f"folio: database error: {first}{hint}\n")
        sys.exit(3)
    except KeyboardInterrupt:
        sys.stderr.write("folio: interrupted\n")
        sys.exit(130)


class FolioCommand(BaseCommand):
    """A command that acts as a user (for the audit log) and turns FolioError into one line.

    Subclasses implement `run(**options)` instead of `handle`. With `--as-user NAME` the
    command acts with that user's rights: it is refused (as the API would answer 403) unless
    the user has what `permissions` names for the sub-action run (keyed by the `action`
    option; "" for a command without sub-actions). Without --as-user the operator at the
    server's console acts with the server's rights.
    """

    permissions: dict[str, str | tuple[str, ...]] = {}
    requires_system_checks = COMMAND_CHECKS

    def required_permissions(self, options) -> tuple[str, ...]:
        needed = self.permissions.get(options.get("action") or "", ())
        return (needed,) if isinstance(needed, str) else tuple(needed)

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        as_user = {"dest": "as_user", "help": "record changes in the audit log as this user"}
        parser.add_argument("--as-user", default=None, **as_user)
        # Arguments after a sub-action (`folio token create … --as-user x`) are parsed by
        # that action's parser, so it must know the option too. SUPPRESS keeps its default
        # from overwriting a value given before the action.
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    sub.add_argument("--as-user", default=argparse.SUPPRESS, **as_user)
        return parser

    def handle(self, *args, as_user=None, **options):
        from folio.accounts import audit
        from folio.accounts.services import get_user
        from folio.errors import FolioError

        try:
            user = get_user(as_user) if as_user else None
            if user is not None:
                from folio.accounts.services import require

                for perm in self.required_permissions(options):
                    require(user, perm)
            with audit.acting_as(user, via="cli"):
                return self.run(*args, **options)
        except FolioError as exc:
            raise CommandError(exc.message) from None

    def run(self, *args, **options):  # pragma: no cover - abstract
        raise NotImplementedError


def progress(
    items: Iterable, *, total: int | None = None, description: str = "", stream=None
) -> Iterator:
    """Iterate with a rich progress bar in a terminal, plain progress lines otherwise."""
    stream = stream or sys.stderr
    if total is None and hasattr(items, "__len__"):
        total = len(items)
    if stream.isatty():
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=False,
        ) as bar:
            task = bar.add_task(description, total=total)
            for item in items:
                yield item
                bar.advance(task)
        return
    done, last = 0, time.monotonic()
    for item in items:
        yield item
        done += 1
        if time.monotonic() - last >= 2:
            last = time.monotonic()
            of = f"/{total}" if total else ""
            stream.write(f"{description}: {done}{of}\n")
    stream.write(f"{description}: {done} done\n")
