from folio.accounts.audit import current_actor
from folio.assets import rights, workflow
from folio.cli import FolioCommand
from folio.errors import InvalidInput


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "queue": "assets.view_asset",
        "submit": "assets.view_asset",
        "approve": "assets.approve_asset",
        "reject": "assets.approve_asset",
        "expiring": "assets.view_asset",
    }
    help = (
        "Asset approval: the review queue, submit, approve, reject (as --as-user), and assets "
        "whose usage rights end soon."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        queue = sub.add_parser("queue", help="assets awaiting a step the acting user may decide")
        queue.add_argument("--limit", type=int, default=100)
        submit = sub.add_parser("submit", help="submit an asset's current version for review")
        submit.add_argument("asset_id", type=int)
        approve = sub.add_parser("approve", help="approve the next review step of an asset")
        approve.add_argument("asset_id", type=int)
        approve.add_argument("--step", default=None, help="the step to decide (must be next)")
        approve.add_argument("--comment", default="")
        reject = sub.add_parser("reject", help="reject an asset, saying why")
        reject.add_argument("asset_id", type=int)
        reject.add_argument("--step", default=None)
        reject.add_argument("--comment", required=True)
        expiring = sub.add_parser("expiring", help="assets whose usage rights end soon")
        expiring.add_argument(
            "--days",
            type=int,
            default=None,
            help="within this many days (default: FOLIO_RIGHTS_WARNING_DAYS)",
        )

    def run(self, action, **o):
        if action == "expiring":
            for a in rights.expiring(o["days"])[:1000]:
                self.stdout.write(
                    f"{a.pk:>7}  {a.expires_at:%Y-%m-%d %H:%M}  {a.status:<9}  {a.title}"
                )
            return
        user = current_actor().user
        if user is None:
            raise InvalidInput(f"{action} needs to know who acts: run it with --as-user USERNAME")
        if action == "queue":
            for asset, step in workflow.pending_for(user, limit=max(1, o["limit"])):
                self.stdout.write(
                    f"{asset.pk:>7}  {step['name']:<16} {asset.kind:<12} {asset.title}"
                )
            return
        if action == "submit":
            asset = workflow.submit_for_review(o["asset_id"], user)
        else:
            asset = workflow.decide(
                o["asset_id"],
                approve=action == "approve",
                comment=o["comment"],
                step=o["step"],
                user=user,
            )
        state = workflow.review_state(asset)
        nxt = (
            f", next step: {state.next_step['name']}"
            if (asset.status == "in_review" and state.next_step)
            else ""
        )
        self.stdout.write(f"asset {asset.pk} is {asset.status}{nxt}")
