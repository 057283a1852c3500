from folio.accounts import services
from folio.cli import FolioCommand
from folio.errors import InvalidInput


class Command(FolioCommand):
    help = "API tokens: create (shown once), list, revoke."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token; it is printed once")
        create.add_argument("--user", required=True)
        create.add_argument("--name", required=True, help="what the token is for")
        create.add_argument("--expires-in-days", type=int, default=None)
        create.add_argument(
            "--permissions",
            default=None,
            metavar="PATTERN[,PATTERN…]",
            help="limit the token to these permission patterns, comma-separated "
            "(e.g. 'catalog.view_*,assets.view_*'); each must be within the user's. "
            "Default: everything the user may do",
        )
        ls = sub.add_parser("list", help="list tokens (never their secrets)")
        ls.add_argument("--user", default=None)
        revoke = sub.add_parser("revoke", help="revoke a token by its id")
        revoke.add_argument("token_id", type=int)

    def run(self, action, **o):
        admin = services.User(is_superuser=True, is_active=True)
        if action == "create":
            user = services.get_user(o["user"])
            permissions = (
                [p for p in o["permissions"].split(",") if p.strip()]
                if o["permissions"] is not None
                else None
            )
            token, text = services.create_token(
                user, o["name"], expires_in_days=o["expires_in_days"], permissions=permissions
            )
            self.stdout.write(text)
            self.stderr.write(
                f"token {token.pk} for {user.username}: copy it now, it is not shown again"
            )
        elif action == "list":
            qs = services.tokens_visible_to(admin)
            if o["user"]:
                qs = qs.filter(user=services.get_user(o["user"]))
            for t in qs:
                expires = f"expires {t.expires_at:%Y-%m-%d}" if t.expires_at else "no expiry"
                used = (
                    f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used"
                )
                allowed = ",".join(t.permissions) if t.permissions else "all of the user's"
                self.stdout.write(
                    f"{t.pk:>5}  {t.user.username:<20} {t.name:<24} {t.state:<8} {expires}, "
                    f"{used}; permissions: {allowed}"
                )
        elif action == "revoke":
            if o["token_id"] <= 0:
                raise InvalidInput("token ids are positive numbers (see `folio token list`)")
            token = services.revoke_token(o["token_id"], by=admin)
            self.stdout.write(f"revoked token {token.pk} ({token.name}) of {token.user.username}")
