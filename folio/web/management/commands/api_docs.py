"""`folio api-docs`: write docs/api.md, the REST API reference, from the OpenAPI schema."""

from pathlib import Path

from django.conf import settings

from folio.cli import FolioCommand

METHODS = ("get", "post", "put", "patch", "delete")


def render() -> str:
    from folio.api import api

    schema = api.get_openapi_schema()
    lines = [
        "# REST API reference",
        "",
        "Generated from the OpenAPI schema by `folio api-docs`; do not edit by hand.",
        "The live, interactive version is at `/api/docs` (schema: `/api/openapi.json`).",
        "",
        schema["info"].get("description", ""),
        "",
    ]
    by_tag: dict[str, list[tuple[str, str, dict]]] = {}
    for path, operations in schema["paths"].items():
        for method in METHODS:
            if method in operations:
                op = operations[method]
                by_tag.setdefault((op.get("tags") or ["other"])[0], []).append((method, path, op))
    for tag in sorted(by_tag):
        lines += [f"## {tag}", "", "| method | path | what |", "|---|---|---|"]
        for method, path, op in by_tag[tag]:
            summary = (op.get("summary") or "").replace("|", "\\|")
            lines.append(f"| {method.upper()} | `{path}` | {summary} |")
        lines.append("")
    return "\n".join(lines)


class Command(FolioCommand):
    help = "Write docs/api.md (the REST API reference) from the OpenAPI schema."

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "docs" / "api.md"))

    def run(self, output, **options):
        Path(output).write_text(render())
        self.stdout.write(f"wrote {output}")
