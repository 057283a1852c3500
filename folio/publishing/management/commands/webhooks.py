"""`folio webhooks …`: outgoing webhooks and their delivery log.

    folio webhooks list
    folio webhooks create https://example.com/hooks/folio --event publication.done \\
        --event asset.expired [--description "ERP"] [--secret …]   # prints the secret once
    folio webhooks create https://example.com/hooks/all --event '*'
    folio webhooks deliveries 3 [--status failed] [--limit 20] [--log]
    folio webhooks ping 3
    folio webhooks redeliver 1042
    folio webhooks delete 3
"""

import json

from folio.accounts.audit import current_actor
from folio.cli import FolioCommand
from folio.publishing import webhooks as service
from folio.publishing.events import EVENTS


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "list": "publishing.view_webhook",
        "create": "publishing.add_webhook",
        "deliveries": "publishing.view_webhook",
        "redeliver": "publishing.change_webhook",
    }
    help = "Outgoing webhooks: list, create, delete, ping; their deliveries; redeliver one."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("list", help="every webhook with its deliveries per status")
        create = sub.add_parser("create", help="add a webhook (prints its secret, once)")
        create.add_argument("url")
        create.add_argument(
            "--event",
            action="append",
            required=True,
            dest="events",
            help=f"an event to send ({', '.join(EVENTS)}), repeatable; '*' for all",
        )
        create.add_argument("--description", default="")
        create.add_argument("--secret", default=None, help="default: a random one")
        create.add_argument("--inactive", action="store_true")
        for name, what in (("delete", "delete a webhook"), ("ping", "send it a ping event")):
            p = sub.add_parser(name, help=what)
            p.add_argument("webhook_id", type=int)
        deliveries = sub.add_parser("deliveries", help="a webhook's delivery log, newest first")
        deliveries.add_argument("webhook_id", type=int)
        deliveries.add_argument("--status", default=None)
        deliveries.add_argument("--event", default=None)
        deliveries.add_argument("--limit", type=int, default=20)
        deliveries.add_argument("--log", action="store_true", help="every attempt too")
        again = sub.add_parser("redeliver", help="send a delivery's event again")
        again.add_argument("delivery_id", type=int)

    def run(self, action, **o):
        user = current_actor().user
        if action == "list":
            for hook in service.list_webhooks(user=user):
                counts = service.status_counts(hook)
                state = "active  " if hook.active else "inactive"
                self.stdout.write(
                    f"{hook.pk:>4}  {state}  {hook.url}\n"
                    f"      events: {', '.join(hook.events)}"
                    + (f"  ({hook.description})" if hook.description else "")
                    + "\n      deliveries: "
                    + ", ".join(f"{n} {s}" for s, n in counts.items())
                )
        elif action == "create":
            data = {
                "url": o["url"],
                "events": o["events"],
                "description": o["description"],
                "active": not o["inactive"],
            }
            if o["secret"]:
                data["secret"] = o["secret"]
            hook, secret = service.create_webhook(data, user=user)
            self.stdout.write(f"webhook {hook.pk} → {hook.url} ({', '.join(hook.events)})")
            self.stdout.write(f"secret (shown once, keep it to verify signatures): {secret}")
        elif action == "delete":
            service.delete_webhook(o["webhook_id"], user=user)
            self.stdout.write(f"webhook {o['webhook_id']} deleted")
        elif action == "ping":
            delivery = service.ping(o["webhook_id"], user=user)
            self.stdout.write(f"ping queued as delivery {delivery.pk}")
        elif action == "redeliver":
            delivery = service.redeliver(o["delivery_id"], user=user)
            self.stdout.write(f"delivery {o['delivery_id']} queued again as {delivery.pk}")
        else:
            qs = service.deliveries(
                o["webhook_id"], status=o["status"], event=o["event"], user=user
            )
            for d in qs[: max(1, min(o["limit"], 1000))]:
                code = d.last_status_code if d.last_status_code is not None else "-"
                self.stdout.write(
                    f"{d.pk:>6}  {d.created_at:%Y-%m-%d %H:%M:%S}  {d.event:<18} "
                    f"{d.status:<9} attempts {d.attempts}  last {code}"
                    + (f"  {d.last_error}" if d.last_error else "")
                )
                if o["log"]:
                    for entry in d.log or []:
                        self.stdout.write("          " + json.dumps(entry, ensure_ascii=False))
