"""Folio's one search interface: the only writer and reader of the search index.

Domain apps describe each object as a SearchDoc and call `index_documents` in the same
transaction as the write that changed it (and `remove_documents` when it goes), so the index
never lags the data. `search` answers the search box and the API; `matching_ids` filters a
queryset by a query without fetching ids into Python.

Matching: every word of the query must occur (in any locale's text, case and accents
ignored), the last word as a prefix, so typing "WB-75" finds WB-750-SS. Identifiers (SKU,
GTIN, codes) also match with separators left out ("wb750"). Ranking: an identifier equal to
the whole query first, then identifiers starting with it, then by text relevance, where
identifiers weigh more than titles and titles more than other text.
"""

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models.expressions import RawSQL

from folio.errors import InvalidInput
from folio.search import backends, facets, fuzzy
from folio.search.backends import ParsedQuery, Prepared
from folio.search.text import tokens

BATCH_SIZE = 500
MAX_LIMIT = 500
# Longer input is cut: nobody types more, and it bounds the work a query can ask for.
MAX_QUERY_CHARS = 256
MAX_QUERY_WORDS = 12
# Bounds on what one document contributes (PostgreSQL caps a tsvector at 1 MB).
MAX_TITLE_CHARS = 20_000
MAX_BODY_CHARS = 200_000
MAX_IDENTIFIER_KEY = 200
MAX_REF_LENGTH = 64


@dataclass(frozen=True)
class Kind:
    """A kind of indexed object: who may search it and the type of its ids."""

    name: str
    permission: str
    id_type: str = "int"  # "int", "str" or "uuid"

    def ref_key(self, ref_id) -> str:
        try:
            if self.id_type == "int":
                if isinstance(ref_id, bool) or not isinstance(ref_id, int | str):
                    raise TypeError
                return str(int(ref_id))
            if self.id_type == "uuid":
                return (ref_id if isinstance(ref_id, uuid.UUID) else uuid.UUID(str(ref_id))).hex
        except (TypeError, ValueError):
            raise InvalidInput(
                f"{ref_id!r} is not a valid {self.name} id ({self.id_type})",
                details={"kind": self.name, "ref_id": str(ref_id)[:100]},
            ) from None
        key = str(ref_id)
        if not key or len(key) > MAX_REF_LENGTH:
            raise InvalidInput(
                f"a {self.name} id must be 1–{MAX_REF_LENGTH} characters",
                details={"kind": self.name, "ref_id": key[:100]},
            )
        return key

    def to_python(self, key: str) -> int | str:
        if self.id_type == "int":
            return int(key)
        if self.id_type == "uuid":
            return str(uuid.UUID(key))
        return key


KINDS: dict[str, Kind] = {}


def register_kind(name: str, *, permission: str, id_type: str = "int") -> Kind:
    """Declare (or redeclare) a searchable kind; apps call this at import or in ready()."""
    if id_type not in ("int", "str", "uuid"):
        raise ValueError(f"id_type must be int, str or uuid, not {id_type!r}")
    if not name or len(name) > 32:
        raise ValueError("a kind name is 1–32 characters")
    KINDS[name] = Kind(name, permission, id_type)
    return KINDS[name]


register_kind("product", permission="catalog.view_product")
register_kind("product_model", permission="catalog.view_productmodel")
register_kind("asset", permission="assets.view_asset")


def get_kind(name: str) -> Kind:
    if name not in KINDS:
        raise InvalidInput(
            f"unknown search kind {name!r}; kinds are {', '.join(sorted(KINDS))}",
            details={"field": "kind", "value": name},
        )
    return KINDS[name]


@dataclass(frozen=True)
class SearchDoc:
    """What the index knows about one object.

    identifiers: SKU, GTIN, codes; matched whole, by prefix and without separators, and
    ranked highest. title: names, in every locale. body: other text values in every locale,
    option labels. extra: data kept beside the entry for later facets (JSON-serializable).
    """

    kind: str
    ref_id: int | str
    identifiers: Sequence[str] = ()
    title: str = ""
    body: str = ""
    extra: dict = field(default_factory=dict)


class Hit(NamedTuple):
    kind: str
    ref_id: int | str
    score: float


@dataclass
class SearchResult:
    """Hits, best first. `next` is passed back as `after` for the following page (None when
    this page is the last). Scores order hits within one query; they mean nothing across
    queries: 2 and more is an exact identifier match, 1 and more an identifier prefix."""

    hits: list[Hit]
    next: str | None = None

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __len__(self) -> int:
        return len(self.hits)

    @property
    def ids(self) -> list[int | str]:
        return [hit.ref_id for hit in self.hits]


def _prepare(doc: SearchDoc) -> Prepared:
    kind = get_kind(doc.kind)
    identifier_tokens, keys = [], []
    for identifier in doc.identifiers:
        parts = tokens(str(identifier))
        if not parts:
            continue
        identifier_tokens.extend(parts)
        key = "".join(parts)[:MAX_IDENTIFIER_KEY]
        if len(parts) > 1:
            identifier_tokens.append(key)
        if key not in keys:
            keys.append(key)
    identifiers = " ".join(identifier_tokens)
    title = " ".join(tokens((doc.title or "")[:MAX_TITLE_CHARS]))
    body = " ".join(tokens((doc.body or "")[:MAX_BODY_CHARS]))
    try:
        extra = json.dumps(doc.extra or {}, sort_keys=True, cls=DjangoJSONEncoder)
    except TypeError as exc:
        raise InvalidInput(f"search extra data is not JSON: {exc}") from None
    digest = hashlib.blake2b(
        "\x1f".join((identifiers, title, body, extra)).encode(), digest_size=16
    ).hexdigest()
    return Prepared(
        kind.name, kind.ref_key(doc.ref_id), digest, extra, identifiers, title, body, tuple(keys)
    )


def _chunks(items: Iterable, size: int = BATCH_SIZE) -> Iterator[list]:
    chunk = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _entry_ids(cursor, backend, kind: str, keys: list[str]) -> dict[str, tuple[int, str]]:
    cursor.execute(*backend.entries_sql(kind, keys))
    return {ref: (entry_id, digest) for ref, entry_id, digest in cursor.fetchall()}


def _by_kind(prepared: Iterable[Prepared]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for p in prepared:
        grouped.setdefault(p.kind, []).append(p.key)
    return grouped


# The deletion neighbourhoods of identifiers (folio.search.fuzzy), kept with the identifiers.
VARIANT_DELETE = "DELETE FROM search_identifiervariant WHERE entry_id = %s"


def _delete_entries(cursor, backend, ids: list[int]) -> None:
    if not ids:
        return
    # One statement per id (sent together): each is a plain index lookup, however stale the
    # planner's statistics are after a large write in the same transaction.
    params = [(entry_id,) for entry_id in ids]
    cursor.executemany("DELETE FROM search_identifier WHERE entry_id = %s", params)
    cursor.executemany(VARIANT_DELETE, params)
    backend.delete_text(cursor, ids)
    cursor.executemany("DELETE FROM search_entry WHERE id = %s", params)


def _write_batch(cursor, backend, batch: list[Prepared]) -> None:
    # A document given twice in one batch: the later one wins, as it would one batch later.
    unique = list({(p.kind, p.key): p for p in batch}.values())
    existing: dict[tuple[str, str], tuple[int, str]] = {}
    for kind, keys in _by_kind(unique).items():
        for key, row in _entry_ids(cursor, backend, kind, keys).items():
            existing[(kind, key)] = row
    changed = [p for p in unique if existing.get((p.kind, p.key), (None, None))[1] != p.digest]
    if not changed:
        return
    old_ids = [existing[(p.kind, p.key)][0] for p in changed if (p.kind, p.key) in existing]
    if old_ids:
        cursor.executemany(
            "DELETE FROM search_identifier WHERE entry_id = %s", [(i,) for i in old_ids]
        )
        cursor.executemany(VARIANT_DELETE, [(i,) for i in old_ids])
    backend.upsert(cursor, changed)
    ids = {k: row[0] for k, row in existing.items()}
    created = [p for p in changed if (p.kind, p.key) not in existing]
    for kind, keys in _by_kind(created).items():
        for key, (entry_id, _) in _entry_ids(cursor, backend, kind, keys).items():
            ids[(kind, key)] = entry_id
    rows = [(ids[(p.kind, p.key)], p) for p in changed]
    backend.write_text(cursor, rows)
    backend.insert(
        cursor,
        "search_identifier",
        {"value": "text", "entry_id": "bigint"},
        [(key, entry_id) for entry_id, p in rows for key in p.identifier_keys],
    )
    backend.insert(
        cursor,
        "search_identifiervariant",
        {"variant": "text", "entry_id": "bigint", "key": "text"},
        [row for entry_id, p in rows for row in fuzzy.rows_for(entry_id, p.identifier_keys)],
    )
    # The words of titles and texts join the vocabulary of typo-tolerant word search.
    fuzzy.add_terms(cursor, fuzzy.words_in(t for _, p in rows for t in (p.title, p.body)))


def index_documents(docs: Iterable[SearchDoc]) -> None:
    """Add or replace documents, in batches; unchanged documents cost one read per batch.

    Call it inside the transaction that changed the objects: the index then commits or rolls
    back with them.
    """
    backend = backends.current()
    with transaction.atomic(), connection.cursor() as cursor:
        for chunk in _chunks(docs):
            _write_batch(cursor, backend, [_prepare(doc) for doc in _with_facet_keys(chunk)])


def _with_facet_keys(docs: list[SearchDoc]) -> list[SearchDoc]:
    """Product documents with their facet keys in `extra` (folio.search.facets), read from
    the catalog now: they are part of the digest, so a product whose family or categories
    changed is rewritten even when its text did not."""
    ids = {}
    for doc in docs:
        if doc.kind == "product":
            try:
                ids[doc.ref_id] = int(doc.ref_id)
            except (TypeError, ValueError):
                continue  # not an id: _prepare says so
    if not ids:
        return docs
    keys = facets.product_keys(ids.values())
    return [
        replace(doc, extra={**(doc.extra or {}), facets.EXTRA_KEY: keys[ids[doc.ref_id]]})
        if doc.kind == "product" and ids.get(doc.ref_id) in keys
        else doc
        for doc in docs
    ]


def remove_documents(kind: str, ref_ids: Iterable[int | str]) -> None:
    """Drop documents from the index; ids that are not indexed are ignored."""
    spec = get_kind(kind)
    backend = backends.current()
    with transaction.atomic(), connection.cursor() as cursor:
        for chunk in _chunks(spec.ref_key(ref_id) for ref_id in ref_ids):
            found = _entry_ids(cursor, backend, spec.name, chunk)
            _delete_entries(cursor, backend, [entry_id for entry_id, _ in found.values()])


def rebuild(kind: str, docs: Iterable[SearchDoc]) -> int:
    """Replace every document of `kind` with `docs`; returns how many were given."""
    spec = get_kind(kind)
    backend = backends.current()
    count = 0

    def counted():
        nonlocal count
        for doc in docs:
            if doc.kind != spec.name:
                raise InvalidInput(
                    f"rebuilding the {spec.name} index was given a {doc.kind} document",
                    details={"kind": spec.name, "got": doc.kind},
                )
            count += 1
            yield doc

    with transaction.atomic():
        with connection.cursor() as cursor:
            backend.delete_kind_text(cursor, spec.name)
            for table in ("search_identifier", "search_identifiervariant"):
                cursor.execute(
                    f"DELETE FROM {table} WHERE entry_id IN "  # noqa: S608 (a constant)
                    "(SELECT id FROM search_entry WHERE kind = %s)",
                    [spec.name],
                )
            cursor.execute("DELETE FROM search_entry WHERE kind = %s", [spec.name])
        index_documents(counted())
    return count


def parse_query(query: str | None) -> ParsedQuery | None:
    """The words of a query as tokens; None when nothing in it can match (blank, only
    punctuation or symbols). On PostgreSQL the typed prefix's completions are read too
    (backends.Backend.with_completions)."""
    text = (query or "")[:MAX_QUERY_CHARS]
    words = [t for t in (tokens(w) for w in text.split()) if t][:MAX_QUERY_WORDS]
    if not words:
        return None
    key = "".join(t for word in words for t in word)[:MAX_IDENTIFIER_KEY]
    return backends.current().with_completions(ParsedQuery(words=words, key=key, prefix=True))


def _encode_after(score: float, entry_id: int) -> str:
    return f"{score!r}~{entry_id}"


def _decode_after(after) -> tuple[float, int] | None:
    if after in (None, ""):
        return None
    try:
        score, entry_id = str(after).split("~")
        return float(score), int(entry_id)
    except ValueError:
        raise InvalidInput(
            "after must be the `next` value of a previous search",
            details={"field": "after", "value": str(after)[:100]},
        ) from None


def search(
    query: str, *, kinds: Sequence[str] = ("product",), limit: int = 50, after=None
) -> SearchResult:
    """The best `limit` hits for `query` among `kinds`, after the page `after` names."""
    if isinstance(kinds, str):
        kinds = [kinds]
    specs = [get_kind(k) for k in dict.fromkeys(kinds)]
    if not specs:
        raise InvalidInput("name at least one kind to search", details={"field": "kind"})
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}", details={"field": "limit"})
    position = _decode_after(after)
    parsed = parse_query(query)
    if parsed is None:
        return SearchResult(hits=[])
    sql, params = backends.current().search_sql(parsed, [s.name for s in specs], limit, position)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    hits = [Hit(kind, KINDS[kind].to_python(ref), float(score)) for kind, ref, score, _ in rows]
    next_after = _encode_after(float(rows[-1][2]), rows[-1][3]) if len(rows) == limit else None
    return SearchResult(hits=hits, next=next_after)


def matching_ids(query: str, kind: str) -> RawSQL | list:
    """The ids of `kind` objects matching `query`, as a subquery for a queryset filter:
    `Product.objects.filter(pk__in=matching_ids("wb-75", "product"))`. Unordered; an empty
    list when the query can match nothing."""
    spec = get_kind(kind)
    parsed = parse_query(query)
    if parsed is None:
        return []
    sql, params = backends.current().matching_sql(parsed, spec.name, spec.id_type)
    return RawSQL(sql, params)  # noqa: S611 (constant SQL, values are parameters)
