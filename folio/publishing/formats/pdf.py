"""Print channels: a PDF product sheet per product and a PDF catalogue per category, in the
item's locale, made with fpdf2.

Files: `sheets/<locale>/<sku>.pdf` (name, SKU, GTIN, price, the main image large and the
gallery as thumbnails, the description as plain text, the attributes as a table by attribute
group with their labels in the locale) and `catalogues/<locale>/<category>.pdf` (every
product of the category: main image, name and key facts). Feed options: `paper` (A4 or
Letter), `title` (the catalogues' subtitle), `sheets` and `catalogue` (false: leave that kind
of file out).

The text is set in DejaVu Sans, vendored in fonts/ (with its licence) so every machine embeds
the same glyphs for ä, é, ß, – and € whatever fonts the system has; fpdf2 embeds only the
glyphs used. Images are the print preset's renditions, read from the media storage; print
presets make CMYK TIFFs at 300 dpi, so each one is converted by libvips to an sRGB JPEG no
larger than the size it is printed at needs (300 dpi over its box) before it is embedded.

A product's fragment is the JSON of everything its sheet shows (image storage names
included), so a sheet can be rebuilt from a stored fragment alone. Sheets of products that
did not change (entries without an item) are copied from the previous publication's folder
(`Context.previous_dir`) when it has them; catalogues are rebuilt every time (any product of
the category may have changed), one category at a time.
"""

import functools
import io
import json
import logging
import re
import shutil
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

from django.core.files.storage import default_storage
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from folio.publishing.formats.base import Context, Entry, Format, Item
from folio.publishing.formats.generic import (
    cell_text,
    dumps,
    grouped,
    one_line,
    plain_text,
    words,
)
from folio.words import money

log = logging.getLogger("folio.publishing")
# fpdf2 subsets the embedded font through fontTools, which logs every step at INFO: one
# screenful per PDF in the worker's log.
logging.getLogger("fontTools.subset").setLevel(logging.WARNING)

FONTS = Path(__file__).parent / "fonts"
FONT = "DejaVu"
MM_PER_INCH = Decimal("25.4")
DPI = 300
MARGIN = 15
# The biggest image boxes, in mm: the sheet's main image, gallery and catalogue thumbnails.
MAIN_BOX = (180, 110)
THUMB = 28
CATALOGUE_THUMB = 40


def _pixels(mm: float) -> int:
    return int(Decimal(str(mm)) / MM_PER_INCH * DPI)


def _image(storage_name: str, max_px: int) -> bytes | None:
    # Thumbnails come again in the catalogues; big images are used once.
    return _thumbnail(storage_name, max_px) if max_px <= 600 else _convert(storage_name, max_px)


@functools.lru_cache(maxsize=256)
def _thumbnail(storage_name: str, max_px: int) -> bytes | None:
    return _convert(storage_name, max_px)


def _convert(storage_name: str, max_px: int) -> bytes | None:
    """The stored image as an sRGB JPEG of at most max_px on its longest side, or None when
    it cannot be read (missing file, a format libvips cannot open)."""
    import pyvips

    try:
        with default_storage.open(storage_name, "rb") as f:
            data = f.read()
        img = pyvips.Image.thumbnail_buffer(data, max_px, height=max_px, size="down")
        if img.interpretation in ("cmyk", "labs", "lab", "rgb16", "grey16", "b-w"):
            img = img.colourspace(
                "srgb" if img.bands >= 3 or img.interpretation == "cmyk" else "b-w"
            )
        if img.hasalpha():
            img = img.flatten(background=[255] * (img.bands - 1))
        if img.format != "uchar":
            img = img.cast("uchar")
        return img.write_to_buffer(".jpg", Q=90)
    except Exception:  # a broken or unreadable image must not stop the publication
        log.warning("image %s cannot be embedded in a PDF", storage_name, exc_info=True)
        return None


def _money(price: Any, locale: str) -> str:
    """A price as people of the locale write it: "$24.90" (en_US), "24,90 €" (de_DE)."""
    if not isinstance(price, dict) or price.get("amount") in (None, ""):
        return cell_text(price)
    return money(price["amount"], price.get("currency", ""), locale)


def sheet_data(item: Item) -> dict[str, Any]:
    """Everything a product's sheet and its catalogue entry show."""
    fields = item.fields
    name = one_line(fields.get("name")) or item.sku
    description = plain_text(fields.get("description"))
    shown = {name, description}
    attributes = []
    for code, v in item.values.items():
        text = plain_text(v.get("value"))
        # The name and description have their own place on the sheet; files and product
        # references mean nothing on paper.
        if not text or text in shown or code in ("name", "description"):
            continue
        if v.get("type") in ("asset_collection", "asset", "product_reference"):
            continue
        data = v.get("data")
        if (
            isinstance(data, list)
            and data
            and all(isinstance(p, dict) and "currency" in p for p in data)
        ):
            continue  # prices in every currency: the sheet shows the feed's one above
        attributes.append(
            {
                "code": code,
                "label": one_line(v.get("label")) or code,
                "value": text,
                "group": one_line(v.get("group_label") or v.get("group") or ""),
            }
        )
    return {
        "sku": item.sku,
        "locale": item.locale,
        "name": name,
        "gtin": cell_text(fields.get("gtin")),
        "price": _money(fields.get("price"), item.locale),
        "brand": one_line(fields.get("brand")),
        "description": description,
        "group": item.group,
        "axes": [{"label": a.get("label", ""), "value": a.get("value", "")} for a in item.axes],
        "category_path": item.category_path,
        # The category the path names; a product in several categories appears in each one's
        # catalogue, titled by its code where no product names its path.
        "categories": [
            [code, " > ".join(item.category_path) if len(item.categories) == 1 else None]
            for code in item.categories
        ],
        "images": [
            {
                "storage_name": i.storage_name,
                "url": i.url,
                "role": i.role,
                "position": i.position,
                "alt": one_line(i.alt) or name,
            }
            for i in item.images
        ],
        "attributes": attributes,
    }


class _Document(FPDF):
    def __init__(self, ctx: Context, title: str):
        paper = ctx.options.get("paper") or "A4"
        super().__init__(orientation="P", unit="mm", format=paper.lower())
        self.said = words(ctx.locale)
        self.add_font(FONT, "", FONTS / "DejaVuSans.ttf")
        self.add_font(FONT, "B", FONTS / "DejaVuSans-Bold.ttf")
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(True, margin=MARGIN + 5)
        self.set_title(title)
        self.set_creator("Folio")
        self.set_lang(ctx.locale.replace("_", "-"))
        self.set_font(FONT, size=10)

    @property
    def width(self) -> float:
        return self.w - self.l_margin - self.r_margin

    def footer(self):
        self.set_y(-MARGIN)
        self.set_font(FONT, size=7)
        self.set_text_color(120)
        self.cell(0, 5, self.said["page"].format(page=self.page_no(), pages="{nb}"), align="C")
        self.set_text_color(0)

    def line_of(self, text: str, size: float, *, bold=False, grey=False, height=None):
        self.set_font(FONT, "B" if bold else "", size)
        if grey:
            self.set_text_color(110)
        self.multi_cell(
            self.width, height or size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
        self.set_text_color(0)

    def picture(self, image: dict | None, x: float, y: float, w: float, h: float) -> bool:
        data = _image(image["storage_name"], _pixels(max(w, h))) if image else None
        if data is None:
            self.set_draw_color(200)
            self.rect(x, y, w, h)
            self.set_draw_color(0)
            return False
        self.image(
            io.BytesIO(data),
            x=x,
            y=y,
            w=w,
            h=h,
            keep_aspect_ratio=True,
            alt_text=image.get("alt") or None,
        )
        return True


def facts(data: dict, said: dict[str, str]) -> list[str]:
    lines = [f"{said['sku']}: {data['sku']}"]
    if data["gtin"]:
        lines[0] += f"   {said['gtin']}: {data['gtin']}"
    if data["price"]:
        lines.append(f"{said['price']}: {data['price']}")
    if data["axes"]:
        lines.append("   ".join(f"{a['label']}: {a['value']}" for a in data["axes"]))
    if data["brand"]:
        lines.append(f"{said['brand']}: {data['brand']}")
    return lines


def render_sheet(data: dict, ctx: Context) -> bytes:
    pdf = _Document(ctx, data["name"])
    said = pdf.said
    pdf.add_page()
    top = " · ".join(x for x in (ctx.channel_label, " > ".join(data["category_path"])) if x)
    if top:
        pdf.line_of(top, 8, grey=True)
        pdf.ln(1)
    pdf.line_of(data["name"], 18, bold=True, height=8)
    pdf.ln(1)
    for line in facts(data, said):
        pdf.line_of(line, 9.5)
    pdf.ln(4)

    images = data["images"]
    if images:
        w, h = min(MAIN_BOX[0], pdf.width), MAIN_BOX[1]
        if pdf.get_y() + h > pdf.page_break_trigger:
            pdf.add_page()
        pdf.picture(images[0], pdf.l_margin, pdf.get_y(), w, h)
        pdf.set_y(pdf.get_y() + h + 4)
        gallery = images[1:]
        per_row = max(1, int((pdf.width + 4) // (THUMB + 4)))
        for start in range(0, len(gallery), per_row):
            if pdf.get_y() + THUMB > pdf.page_break_trigger:
                pdf.add_page()
            y = pdf.get_y()
            for n, image in enumerate(gallery[start : start + per_row]):
                pdf.picture(image, pdf.l_margin + n * (THUMB + 4), y, THUMB, THUMB)
            pdf.set_y(y + THUMB + 4)

    if data["description"]:
        pdf.ln(2)
        pdf.line_of(said["description"], 12, bold=True, height=7)
        pdf.line_of(data["description"], 10, height=5)
        pdf.ln(3)

    if data["attributes"]:
        pdf.ln(2)
        pdf.line_of(said["specifications"], 12, bold=True, height=7)
        groups: dict[str, list[dict]] = {}
        for attribute in data["attributes"]:
            groups.setdefault(attribute["group"], []).append(attribute)
        for group, attributes in groups.items():
            if group and len(groups) > 1:
                pdf.ln(1)
                pdf.line_of(group, 10, bold=True, height=6)
            pdf.set_font(FONT, size=9)
            pdf.set_draw_color(190)
            with pdf.table(
                col_widths=(pdf.width * 0.35, pdf.width * 0.65),
                first_row_as_headings=False,
                borders_layout="HORIZONTAL_LINES",
                line_height=5,
                text_align="LEFT",
                width=pdf.width,
            ) as table:
                for attribute in attributes:
                    row = table.row()
                    row.cell(attribute["label"])
                    row.cell(attribute["value"])
            pdf.set_draw_color(0)
    return bytes(pdf.output())


def render_catalogue(title: str, products: Iterable[dict], ctx: Context) -> bytes:
    products = list(products)
    subtitle = ctx.options.get("title") or ctx.channel_label or ctx.channel
    pdf = _Document(ctx, f"{words(ctx.locale)['catalogue']}: {title}")
    said = pdf.said
    pdf.add_page()
    pdf.line_of(f"{subtitle} · {said['catalogue']}", 9, grey=True)
    pdf.ln(1)
    pdf.line_of(title, 20, bold=True, height=9)
    count = said["product"] if len(products) == 1 else said["products"].format(count=len(products))
    pdf.line_of(count, 9, grey=True)
    pdf.ln(5)
    block = CATALOGUE_THUMB + 6
    for data in products:
        if pdf.get_y() + block > pdf.page_break_trigger:
            pdf.add_page()
        y = pdf.get_y()
        images = data["images"]
        pdf.picture(
            images[0] if images else None, pdf.l_margin, y, CATALOGUE_THUMB, CATALOGUE_THUMB
        )
        x = pdf.l_margin + CATALOGUE_THUMB + 6
        text_width = pdf.w - pdf.r_margin - x
        pdf.set_xy(x, y)
        pdf.set_font(FONT, "B", 11)
        pdf.multi_cell(text_width, 5.5, data["name"], align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_font(FONT, "", 8.5)
        for line in facts(data, said):
            pdf.set_x(x)
            pdf.multi_cell(text_width, 4.5, line, align="L", new_x=XPos.LEFT, new_y=YPos.NEXT)
        pdf.set_y(max(pdf.get_y(), y + CATALOGUE_THUMB) + 6)
        pdf.set_draw_color(220)
        pdf.line(pdf.l_margin, pdf.get_y() - 3, pdf.w - pdf.r_margin, pdf.get_y() - 3)
        pdf.set_draw_color(0)
    return bytes(pdf.output())


def _file_name(text: str) -> str:
    # SKUs and category codes as they are, except what a file system or URL would misread.
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "product"


class Pdf(Format):
    code = "pdf"
    label = "Print: PDF product sheets and catalogues"
    full_feed = True
    per_locale = True
    default_mapping: ClassVar[dict[str, dict]] = {
        "name": {"attribute": "name"},
        "description": {"attribute": "description"},
        "brand": {"attribute": "brand"},
        "gtin": {"attribute": "@gtin"},
        "price": {"attribute": "price"},
    }
    required_fields = ("name",)

    def fragment(self, item: Item, ctx: Context) -> str:
        return dumps(sheet_data(item))

    def write(self, out: Path, ctx: Context, entries: Iterable[Entry]) -> list[str]:
        options = ctx.options
        names: list[str] = []
        sheets = options.get("sheets", True) is not False
        catalogue = options.get("catalogue", True) is not False

        def by_category() -> Iterator[tuple[str, str]]:
            # First pass: the sheets, one product at a time; what the catalogues need is
            # spooled by category for the second.
            for entry in entries:
                data = json.loads(entry.fragment)
                if sheets:
                    names.append(self._sheet(out, ctx, entry, data))
                if catalogue:
                    for code, title in data["categories"] or [["", None]]:
                        yield code, dumps({**data, "title": title})

        catalogues = []
        for code, fragments in grouped(by_category()):
            products = [json.loads(text) for text in fragments]
            title = next((p["title"] for p in products if p["title"]), None) or code
            if not code:
                title = words(ctx.locale)["other"]
            rel = f"catalogues/{ctx.locale}/{_file_name(code or 'other')}.pdf"
            path = out / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(render_catalogue(title, products, ctx))
            catalogues.append(rel)
        return names + catalogues

    def _sheet(self, out: Path, ctx: Context, entry: Entry, data: dict) -> str:
        rel = f"sheets/{ctx.locale}/{_file_name(entry.sku)}.pdf"
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        previous = ctx.previous_dir / rel if ctx.previous_dir else None
        if entry.item is None and previous is not None and previous.is_file():
            shutil.copyfile(previous, path)
        else:
            path.write_bytes(render_sheet(data, ctx))
        return rel
