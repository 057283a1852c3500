"""The per-process copies of the structure (folio.catalog.cache): every write to a table they
are made from changes the generation, whoever makes it and however; nothing else does; and a
copy is read again only when the generation has changed — also when another process wrote."""

import pytest
from django.db import connection

from folio.catalog import cache, structure
from folio.catalog import services as catalog_services
from folio.catalog.models import (
    Attribute,
    AttributeGroup,
    Channel,
    Family,
    MeasurementFamily,
    Product,
)
from folio.linking import sku360
from folio.renditions import presets
from folio.renditions.models import ImageSlot, Preset
from tests.conftest import run_folio
from tests.fixtures.catalog import espresso_pro


def raw(sql: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql)


def _preset() -> Preset:
    return Preset.objects.create(code="cache-test", name="Cache test", spec={"format": "jpeg"})


# Each way a table the copies are made from is written: through the services, the ORM's
# bulk statements (no signals), and raw SQL (what another tool would send).
WRITES = {
    "attribute created (service)": lambda: structure.create_attribute("finish", type="text"),
    "attribute changed (service)": lambda: structure.update_attribute(
        "name", labels={"en_US": "Title"}
    ),
    "attributes updated in bulk": lambda: Attribute.objects.filter(code="brand").update(
        sort_order=9
    ),
    "attribute deleted (raw SQL)": lambda: (
        Attribute.objects.create(code="scratch", type="text"),
        raw("DELETE FROM catalog_attribute WHERE code = 'scratch'"),
    ),
    "attribute group changed": lambda: AttributeGroup.objects.filter(code="general").update(
        sort_order=5
    ),
    "measurement family's units changed": lambda: MeasurementFamily.objects.filter(
        code="test_volume"
    ).update(standard_unit="LITER"),
    "attribute removed from a family": lambda: Family.objects.get(
        code="coffee_machines"
    ).attributes.remove(Attribute.objects.get(code="power")),
    "channel changed (raw SQL)": lambda: raw(
        "UPDATE catalog_channel SET requires_review = TRUE WHERE code = 'ecommerce'"
    ),
    "preset created": _preset,
    "image slot created (service)": lambda: presets.create_slot(
        "ecommerce", role="main", preset=_preset().code
    ),
    "image slots deleted in bulk": lambda: (
        ImageSlot.objects.create(
            channel=Channel.objects.get(code="marketplace"), role="main", preset=_preset()
        ),
        ImageSlot.objects.all().delete(),
    ),
}


@pytest.mark.django_db
@pytest.mark.parametrize("write", sorted(WRITES))
def test_each_write_to_the_structure_changes_the_generation(catalog, write):
    before = cache.generation()
    assert before is not None
    WRITES[write]()
    after = cache.generation()
    assert after is not None and after != before, write


@pytest.mark.django_db
def test_product_writes_leave_the_generation_alone(catalog):
    before = cache.generation()
    catalog_services.create_product(espresso_pro())
    Product.objects.update(enabled=False)
    assert cache.generation() == before


@pytest.mark.django_db
def test_a_copy_is_read_once_per_generation(catalog, django_assert_num_queries):
    loads = []

    def load():
        loads.append(1)
        return sorted(Attribute.objects.values_list("code", flat=True))

    first = cache.structure("test codes", load)
    with django_assert_num_queries(1):  # the generation only
        assert cache.structure("test codes", load) is first
    assert len(loads) == 1
    structure.create_attribute("finish", type="text")
    again = cache.structure("test codes", load)
    assert len(loads) == 2 and "finish" in again and "finish" not in first


@pytest.mark.django_db
def test_without_a_generation_nothing_is_kept(catalog):
    raw("DELETE FROM folio_structure_generation")
    loads = []

    def load():
        loads.append(1)
        return len(loads)

    assert cache.generation() is None
    assert cache.structure("test count", load) == 1
    assert cache.structure("test count", load) == 2  # read each time until a write
    AttributeGroup.objects.update(sort_order=2)  # the triggers write the row back
    assert cache.generation() is not None


@pytest.mark.django_db
def test_pages_see_a_label_changed_after_their_copy_was_made(catalog):
    assert sku360.load_attributes({"name"})["name"].label("en_US") != "Product title"
    structure.update_attribute("name", labels={"en_US": "Product title"})
    attributes = sku360.load_attributes({"name"})
    assert attributes["name"].label("en_US") == "Product title"


@pytest.mark.django_db
def test_option_labels_given_to_one_page_stay_off_the_shared_copy(catalog):
    shared = sku360.current_structure().attributes["color"]
    page = sku360.load_attributes({"color"})
    assert page["color"].option_labels  # the page's own copy has them
    assert page["color"] is not shared and not hasattr(shared, "option_labels")


def test_another_process_changing_the_structure_is_seen(catalog, folio_env):
    """A web process keeps its copy; a change made by another process (here a `folio`
    command) must reach it at its next request."""
    cache.forget()
    assert sku360.load_attributes({"brand"})["brand"].label("en_US") != "Maker"
    done = run_folio(
        ["catalog", "attribute", "update", "brand", "--label", "en_US=Maker"], folio_env
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sku360.load_attributes({"brand"})["brand"].label("en_US") == "Maker"
