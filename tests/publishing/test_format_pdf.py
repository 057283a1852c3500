"""Print PDFs: product sheets and category catalogues opened with pypdfium2 — page count,
the text in the item's locale with its accents, the print renditions (CMYK TIFFs in the
media storage) embedded as images — and sheets of unchanged products copied from the
previous publication."""

import contextlib
import dataclasses

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest

from folio.publishing.formats import get_format
from tests.assets.conftest import media  # noqa: F401 - the fixture
from tests.publishing.format_items import (
    catalogue,
    context,
    entries,
    espresso,
    lid,
    publish_demo,
)

pytestmark = pytest.mark.usefixtures("media")


@dataclasses.dataclass
class Read:
    pages: int
    text: str
    images: int  # over all pages
    size: tuple[float, float]  # of the first page, in points


def read(path) -> Read:
    doc = pdfium.PdfDocument(path)
    with contextlib.closing(doc):
        texts, images = [], 0
        for page in doc:
            with contextlib.closing(page):
                textpage = page.get_textpage()
                texts.append(textpage.get_text_range())
                textpage.close()
                images += len(list(page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,))))
        size = doc.get_page_size(0)
        return Read(len(doc), "\n".join(texts), images, size)


def flat(text: str) -> str:
    return " ".join(text.split())


def publish(out, items, ctx, **kw):
    fmt = get_format("pdf")
    out.mkdir(parents=True, exist_ok=True)
    return fmt.write(out, ctx, entries(fmt, items, ctx, **kw))


def test_german_sheets_and_catalogue_with_print_images(tmp_path):
    ctx = context("de_DE", currency="EUR")
    names = publish(tmp_path, catalogue("de_DE", currency="EUR", print_images=True), ctx)
    assert names == [
        "sheets/de_DE/WB-500-SS-BLACK.pdf",
        "sheets/de_DE/WB-600-LID.pdf",
        "sheets/de_DE/WB-750-SS-BLACK.pdf",
        "sheets/de_DE/WB-750-SS-BLUE.pdf",
        "sheets/de_DE/WB-750-SS-GREEN.pdf",
        "catalogues/de_DE/water_bottles.pdf",
    ]
    sheet = read(tmp_path / "sheets/de_DE/WB-750-SS-GREEN.pdf")
    assert sheet.pages == 1
    text = flat(sheet.text)
    for words in (
        "Edelstahl-Trinkflasche",
        "Artikelnummer: WB-750-SS-GREEN",
        "GTIN: 4006381000772",
        "Preis: 22,90 €",
        "Größe: 750 ml",
        "Farbe: Grün",
        "Doppelwandige, BPA-freie Edelstahlflasche – hält Getränke 24 Stunden kalt.",
        "Technische Daten",
        "Fassungsvermögen",
        "BPA-frei",
        "Trinkgefäße",
        "Seite 1 von 1",
    ):
        assert words in text, words
    assert "<p>" not in text
    assert sheet.images == 1  # the CMYK TIFF, converted for embedding
    assert sheet.size == pytest.approx((595.28, 841.89), abs=0.5)  # A4

    no_image = read(tmp_path / "sheets/de_DE/WB-600-LID.pdf")
    assert "Ersatzdeckel" in no_image.text and no_image.images == 0

    book = read(tmp_path / "catalogues/de_DE/water_bottles.pdf")
    text = flat(book.text)
    assert "Trinkgefäße > Trinkflaschen" in text and "Katalog" in text
    assert text.count("Edelstahl-Trinkflasche") == 4 and "Ersatzdeckel" in text
    assert "5 Produkte" in text
    assert book.images == 4


def test_french_machine_with_gallery_on_letter_paper(tmp_path):
    ctx = context(
        "fr_FR", currency="EUR", options={"paper": "Letter", "title": "Catalogue printemps"}
    )
    names = publish(tmp_path, [espresso("fr_FR", currency="EUR", print_images=True)], ctx)
    assert names == ["sheets/fr_FR/EP-3000.pdf", "catalogues/fr_FR/coffee_machines.pdf"]
    sheet = read(tmp_path / names[0])
    text = flat(sheet.text)
    for words in (
        "Machine à café automatique EspressoPro 3000",
        "Référence: EP-3000",
        "Prix: 749,00 €",
        "Caractéristiques",
        "Pression de la pompe",
        "15 bar",
        "Broyeur intégré, Mousseur à lait",
        "Crème légère, café corsé.",
    ):
        assert words in text, words
    assert sheet.images == 3  # main image and two gallery thumbnails
    assert sheet.size == pytest.approx((612, 792), abs=0.5)
    book = flat(read(tmp_path / names[1]).text)
    assert "Catalogue printemps" in book and "Cuisine > Machines à café" in book


def test_long_sheet_breaks_pages(tmp_path):
    item = espresso("en_US")
    item.fields["description"] = "<p>" + "Freshly ground, every cup. " * 250 + "</p>"
    for n in range(60):
        item.values[f"spec_{n}"] = {"label": f"Specification {n}", "value": f"{n} units", "data": n}
    publish(tmp_path, [item], context("en_US", options={"catalogue": False}))
    assert not (tmp_path / "catalogues").exists()
    sheet = read(tmp_path / "sheets/en_US/EP-3000.pdf")
    assert sheet.pages >= 2
    text = flat(sheet.text)
    assert f"Page {sheet.pages} of {sheet.pages}" in text
    assert "Specification 59" in text and "59 units" in text
    assert "Price: $799.00" in text  # as an American reader writes it, not "799.00 USD"


def test_unchanged_sheets_copied_from_the_previous_publication(tmp_path):
    ctx = context("en_US")
    items = catalogue("en_US")
    first = tmp_path / "releases/1"
    publish(first, items, ctx)
    # Mark the previous release's sheet so a copy can be told from a rebuilt one.
    marked = first / "sheets/en_US/WB-750-SS-BLUE.pdf"
    marked.write_bytes((first / "sheets/en_US/EP-3000.pdf").read_bytes())

    second = tmp_path / "releases/2"
    unchanged = {"WB-750-SS-BLUE", "WB-600-LID"}
    names = publish(second, items, dataclasses.replace(ctx, previous_dir=first), reused=unchanged)
    assert (second / "sheets/en_US/WB-750-SS-BLUE.pdf").read_bytes() == marked.read_bytes()
    # Changed products are rebuilt; the catalogue is rebuilt whole.
    assert "Stainless Steel Water Bottle" in read(second / "sheets/en_US/WB-750-SS-GREEN.pdf").text
    assert "sheets/en_US/WB-750-SS-BLUE.pdf" in names
    book = flat(read(second / "catalogues/en_US/water_bottles.pdf").text)
    assert "WB-750-SS-BLUE" in book and "Spare lid" in book

    # A reused fragment without a previous file is rebuilt from the fragment alone.
    third = tmp_path / "releases/3"
    publish(third, items, ctx, reused={item.sku for item in items})
    rebuilt = read(third / "sheets/en_US/WB-750-SS-BLUE.pdf")
    assert "Stainless Steel Water Bottle" in rebuilt.text and rebuilt.images == 2


def test_unreadable_image_leaves_a_frame(tmp_path):
    item = espresso("en_US")
    item.images[0].storage_name = "blobs/00/00/missing"
    item.images = item.images[:1]
    spare = lid("en_US")
    spare.categories, spare.category_path = [], []
    names = publish(tmp_path, [item, spare], context("en_US"))
    sheet = read(tmp_path / "sheets/en_US/EP-3000.pdf")
    assert sheet.images == 0 and "EspressoPro 3000" in sheet.text
    # A product in no category goes to the catalogue of the others.
    assert "catalogues/en_US/other.pdf" in names
    assert "Spare lid" in read(tmp_path / "catalogues/en_US/other.pdf").text


@pytest.mark.django_db
def test_demo_catalog_publishes_print_pdfs(settings, tmp_path):
    # The demo's print channel: English and German, euros, CMYK 300 dpi main images.
    # The demo writes descriptions for the web shop only: print takes those.
    web_copy = {"description": {"attribute": "description", "scope": "webshop"}}
    publication, folder, published = publish_demo(
        settings, tmp_path, "print", "pdf", currency="EUR", mapping=web_copy
    )
    names = {f["name"] for f in publication.files}
    for locale, skus in published.items():
        for sku in skus:
            assert f"sheets/{locale}/{sku}.pdf" in names
    blue = read(folder / "sheets/de_DE/WB-750-SS-BLUE.pdf")
    assert blue.pages >= 1 and blue.images >= 1
    text = flat(blue.text)
    assert "Edelstahl-Trinkflasche" in text and "Farbe: Blau" in text  # labels in German too
    assert "Preis: 22,90 €" in text
    assert "Doppelwandige, BPA-freie Edelstahlflasche – hält Getränke 24 Stunden kalt." in text
    book = read(folder / "catalogues/de_DE/water_bottles.pdf")
    assert "Trinkgefäße > Trinkflaschen" in flat(book.text)
    assert book.images >= 1
