import getpass
import sys

from folio.accounts import services
from folio.accounts.roles import ROLES
from folio.cli import FolioCommand
from folio.errors import InvalidInput


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "create": "accounts.add_user",
        "list": "accounts.view_user",
        "set-roles": "accounts.change_user",
        "set-password": "accounts.change_user",
        "scope": "accounts.change_user",
        "deactivate": "accounts.change_user",
        "activate": "accounts.change_user",
    }
    help = "Users: create, list, set roles, set password, deactivate."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a user")
        create.add_argument("username")
        create.add_argument(
            "--role",
            action="append",
            required=True,
            choices=list(ROLES),
            help="a role (repeat for several)",
        )
        create.add_argument(
            "--group",
            action="append",
            default=[],
            help="a further group, e.g. an approval step's approvers",
        )
        create.add_argument("--email", default="")
        create.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input (else you are asked)",
        )
        create.add_argument(
            "--no-password",
            action="store_true",
            help="API-token-only user, cannot sign in to the web UI",
        )
        sub.add_parser("list", help="list users and their roles")
        roles = sub.add_parser("set-roles", help="replace a user's roles")
        roles.add_argument("username")
        roles.add_argument("--role", action="append", required=True, choices=list(ROLES))
        pw = sub.add_parser("set-password", help="set a user's password")
        pw.add_argument("username")
        pw.add_argument("--password-stdin", action="store_true")
        scope = sub.add_parser(
            "scope",
            help="show or limit a user to category trees (catalog editors) or collections "
            "(asset managers, agencies)",
        )
        scope.add_argument("username")
        scope.add_argument(
            "--categories",
            help="comma-separated category codes (each with everything below it); '' removes",
        )
        scope.add_argument("--collections", help="comma-separated collection codes; '' removes")
        for name in ("deactivate", "activate"):
            p = sub.add_parser(name, help=f"{name} a user (deactivating revokes their tokens)")
            p.add_argument("username")

    def _password(self, from_stdin: bool) -> str:
        if from_stdin:
            return sys.stdin.readline().rstrip("\n")
        if not sys.stdin.isatty():
            raise InvalidInput("no terminal to ask for a password: use --password-stdin")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise InvalidInput("the two passwords differ")
        return first

    def run(self, action, **o):
        if action == "create":
            password = None if o["no_password"] else self._password(o["password_stdin"])
            user = services.create_user(
                o["username"],
                roles=o["role"],
                email=o["email"],
                password=password,
                groups=o["group"],
            )
            self.stdout.write(f"created {user.username} ({', '.join(services.user_roles(user))})")
        elif action == "list":
            for user in services.User.objects.prefetch_related("groups").order_by("username"):
                state = "" if user.is_active else "  (inactive)"
                self.stdout.write(
                    f"{user.username:<24} {', '.join(services.user_roles(user))}{state}"
                )
        elif action == "set-roles":
            user = services.set_roles(services.get_user(o["username"]), o["role"])
            self.stdout.write(f"{user.username}: {', '.join(services.user_roles(user))}")
        elif action == "set-password":
            user = services.get_user(o["username"])
            services.set_password(user, self._password(o["password_stdin"]))
            self.stdout.write(f"password of {user.username} changed")
        elif action == "scope":
            from folio.accounts import scopes

            def codes(text):
                return None if text is None else [c for c in text.split(",") if c.strip()]

            user = services.get_user(o["username"])
            if o["categories"] is None and o["collections"] is None:
                scope = scopes.user_scope(user)
            else:
                scope = scopes.set_scope(
                    user, categories=codes(o["categories"]), collections=codes(o["collections"])
                )
            self.stdout.write(
                f"{scope['username']}: categories "
                f"{', '.join(scope['categories']) or '(not limited)'}; "
                f"collections as {scope['collections_as']} "
                f"{', '.join(scope['collections']) or '(none)'}"
            )
        else:
            user = services.get_user(o["username"])
            services.set_active(user, action == "activate")
            self.stdout.write(f"{user.username} {action}d")
