from folio.accounts.audit import current_actor
from folio.catalog import services
from folio.catalog.models import Proposal
from folio.cli import FolioCommand
from folio.errors import InvalidInput


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "list": "catalog.view_product",
        "approve": "catalog.review_product",
        "reject": "catalog.review_product",
    }
    help = "Proposed product changes under review: list, approve, reject (as --as-user)."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="proposals, newest first")
        ls.add_argument("--status", choices=[s.value for s in Proposal.Status], default="pending")
        ls.add_argument("--limit", type=int, default=50)
        approve = sub.add_parser("approve", help="approve a proposal: it goes live")
        approve.add_argument("proposal_id", type=int)
        approve.add_argument("--comment", default="")
        reject = sub.add_parser("reject", help="reject a proposal, saying why")
        reject.add_argument("proposal_id", type=int)
        reject.add_argument("--comment", required=True)

    def run(self, action, **o):
        if action == "list":
            qs = Proposal.objects.filter(status=o["status"]).select_related(
                "product", "proposed_by", "reviewed_by"
            )
            for p in qs[: max(1, o["limit"])]:
                by = p.proposed_by.username if p.proposed_by else "system"
                fields = ", ".join(
                    sorted(k for k in p.changes if k != "values")
                    + sorted(p.changes.get("values", {}))
                )
                self.stdout.write(
                    f"{p.pk:>6}  {p.product.sku:<28} {by:<16} {p.proposed_at:%Y-%m-%d %H:%M}  "
                    f"{p.status:<9} {fields}"
                )
            return
        user = current_actor().user
        if user is None:
            raise InvalidInput(
                f"{action} needs a reviewer: run it with --as-user USERNAME "
                "(a user with the catalog_reviewer role)"
            )
        comment = o["comment"]
        if action == "reject" and not comment.strip():
            raise InvalidInput("say why the proposal is rejected (--comment)")
        proposal = services.review_proposal(
            o["proposal_id"], approve=action == "approve", comment=comment, user=user
        )
        self.stdout.write(f"{proposal.status} proposal {proposal.pk} for {proposal.product.sku}")
