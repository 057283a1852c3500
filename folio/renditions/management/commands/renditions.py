"""`folio renditions …`: presets, rendering and the state of an asset's renditions.

    folio renditions presets
    folio renditions render 42 amazon-main web-2048-webp [--locale de_DE] [--now]
    folio renditions status 42 [--locale de_DE]
    folio renditions rerender amazon-main

`render` queues jobs for the worker (as the API does); `--now` renders in this process
instead, for scripts and a machine without a worker.
"""

from folio.cli import FolioCommand
from folio.renditions import cache
from folio.renditions import presets as service
from folio.renditions.models import Preset, Rendition
from folio.words import counted


class Command(FolioCommand):
    # what --as-user needs, per sub-action (folio.cli.FolioCommand)
    permissions = {
        "presets": "renditions.view_preset",
        "render": "renditions.add_rendition",
        "status": "renditions.view_rendition",
        "rerender": "renditions.change_preset",
    }
    help = "Renditions: list presets, render an asset, show its renditions, re-render a preset."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("presets", help="list the presets")
        render = sub.add_parser("render", help="render an asset through presets")
        render.add_argument("asset_id", type=int)
        render.add_argument("presets", nargs="+")
        render.add_argument("--locale", default=None)
        render.add_argument("--now", action="store_true", help="render here, not in the worker")
        status = sub.add_parser("status", help="the renditions of an asset's current file")
        status.add_argument("asset_id", type=int)
        status.add_argument("--locale", default=None)
        rerender = sub.add_parser("rerender", help="re-render what an older spec of it made")
        rerender.add_argument("preset")

    def run(self, action, **options):
        return getattr(self, f"_{action}")(**options)

    def _presets(self, **options):
        for p in Preset.objects.order_by("code"):
            spec = p.spec
            fmt = spec.get("format", "?")
            markets = ",".join(sorted(p.market_overrides or {})) or "-"
            flags = "public" if p.public else "signed"
            self.stdout.write(
                f"{p.code:24} v{p.version:<3} {p.kind:5} {fmt:5} {flags:6} markets:{markets:10} "
                f"{p.name}"
            )

    def _render(self, asset_id, presets, locale=None, now=False, **options):
        from folio.jobs.models import Job

        preset_rows = [service.get_preset(code) for code in presets]
        rows, jobs = cache.ensure_renditions([asset_id], preset_rows, locale=locale)
        if now:
            from folio.renditions.jobs import render_one

            Job.objects.filter(pk__in=[j.pk for j in jobs]).update(
                status=Job.Status.CANCELLED, message="rendered by `folio renditions render --now`"
            )
            for row in rows:
                if row.status == Rendition.Status.PENDING:
                    render_one(row)
        for row in rows:
            self.stdout.write(_line(row))
        if jobs and not now:
            self.stdout.write(
                f"{counted(len(jobs), 'job')} queued: " + " ".join(str(j.pk) for j in jobs)
            )

    def _status(self, asset_id, locale=None, **options):
        from folio.assets.models import Asset

        asset = Asset.objects.select_related("current_version").filter(pk=asset_id).first()
        if asset is None or asset.current_version is None:
            from folio.errors import NotFound

            raise NotFound(f"no asset {asset_id} with a file")
        kind = {"image": "image", "video": "video"}.get(asset.type, "")
        sha = asset.current_version.blob_id
        for preset in Preset.objects.filter(kind=kind).order_by("code"):
            h = service.spec_hash(service.effective_spec(preset, locale))
            row = Rendition.objects.filter(source_sha256=sha, spec_hash=h).first()
            self.stdout.write(_line(row) if row else f"{preset.code:24} none")

    def _rerender(self, preset, **options):
        from folio.renditions.jobs import start_rerender

        job = start_rerender(service.get_preset(preset))
        self.stdout.write(f"job {job.pk} queued: {job.label}")


def _line(row: Rendition) -> str:
    code = row.preset.code if row.preset else "?"
    if row.status != Rendition.Status.READY:
        return f"{code:24} {row.status:8} {row.error}".rstrip()
    passed = row.compliance.get("passed")
    failed = [c["rule"] for c in row.compliance.get("checks", []) if not c.get("passed")]
    verdict = "compliant" if passed else f"NOT compliant ({', '.join(failed)})"
    review = " needs review" if row.needs_review else ""
    return (
        f"{code:24} ready    {row.format} {row.width}×{row.height} {row.size} bytes, "
        f"{verdict}{review}"
    )
