"""A realistic small catalog for search tests: water bottles and coffee machines in three
locales, plus filler products so ranking and prefixes have competition."""

import pytest

from folio.search.index import SearchDoc, index_documents

FINISHES = {
    "SS": ("stainless steel", "Edelstahl", "acier inoxydable"),
    "BK": ("black", "Schwarz", "noir"),
    "WH": ("white", "Weiß", "blanc"),
    "BL": ("blue", "Blau", "bleu"),
    "RD": ("red", "Rot", "rouge"),
}
SIZES = (350, 500, 750, 1000)
COFFEE = {
    "CM-100": ("Coffee machine Barista", "Kaffeevollautomat Barista", "Machine à café Barista"),
    "CM-1000": (
        "Coffee machine Barista Pro",
        "Kaffeevollautomat Barista Pro",
        "Machine à café Barista Pro",
    ),
    "CM-200": ("Espresso machine Piccolo", "Espressomaschine Piccolo", "Machine expresso Piccolo"),
    "CG-10": ("Coffee grinder", "Kaffeemühle", "Moulin à café"),
}
FILLER = (
    ("MUG", "Mug", "Becher", "Tasse"),
    ("TEA", "Tea kettle", "Wasserkocher", "Bouilloire"),
    ("LUN", "Lunch box", "Brotdose", "Boîte à lunch"),
)


def gtin(n: int) -> str:
    body = f"400638{n:06d}"
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return body + str((10 - total % 10) % 10)


def catalog_docs() -> list[SearchDoc]:
    docs, pk = [], 0
    for size in SIZES:
        for code, (en, de, fr) in FINISHES.items():
            pk += 1
            docs.append(
                SearchDoc(
                    kind="product",
                    ref_id=pk,
                    identifiers=[f"WB-{size}-{code}", gtin(pk)],
                    title=(
                        f"Water bottle {size} ml {en} | Trinkflasche {size} ml {de} | "
                        f"Gourde {size} ml {fr}"
                    ),
                    body=(
                        "Insulated, keeps drinks cold for 24 hours. Doppelwandig isoliert, "
                        "hält Getränke 24 Stunden kalt. Isolée, garde les boissons au frais."
                    ),
                )
            )
    for sku, (en, de, fr) in COFFEE.items():
        pk += 1
        docs.append(
            SearchDoc(
                kind="product",
                ref_id=pk,
                identifiers=[sku, gtin(pk)],
                title=f"{en} | {de} | {fr}",
                body="Grinds beans fresh. Mahlt die Bohnen frisch. Café fraîchement moulu.",
            )
        )
    # Mentions another product's SKU only in its text: must rank below that product.
    pk += 1
    docs.append(
        SearchDoc(
            kind="product",
            ref_id=pk,
            identifiers=["DS-100"],
            title="Descaler | Entkalker | Détartrant",
            body="Suitable for CM-100 and CM-200. Geeignet für CM-100.",
        )
    )
    for prefix, en, de, fr in FILLER:
        for n in range(1, 101):
            pk += 1
            docs.append(
                SearchDoc(
                    kind="product",
                    ref_id=pk,
                    identifiers=[f"{prefix}-{n:03d}", gtin(pk)],
                    title=f"{en} {n} | {de} {n} | {fr} {n}",
                    body=f"Colour {n % 7}. Farbe {n % 7}. Couleur {n % 7}.",
                )
            )
    return docs


def by_sku(docs: list[SearchDoc]) -> dict[str, int]:
    return {doc.identifiers[0]: doc.ref_id for doc in docs}


@pytest.fixture
def catalog(db):
    docs = catalog_docs()
    index_documents(docs)
    return by_sku(docs)
