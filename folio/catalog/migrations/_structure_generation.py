"""Triggers that change folio_structure_generation's one value with every write to a
structure table, whoever sends it (services, imports, raw SQL, another process): what
folio.catalog.cache keys its per-process copies by. Shared by the migrations of the apps
that own such tables (catalog 0008, renditions 0005); a module whose name starts with "_"
is not a migration itself.

The value is random, not counted up: a rolled-back change's number must never come back
for a different structure (a copy made inside that transaction is keyed by it)."""

SQLITE_BUMP = "INSERT OR REPLACE INTO folio_structure_generation (id, value) VALUES (1, random())"
SQLITE_TABLE = [
    """CREATE TABLE IF NOT EXISTS folio_structure_generation
    (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)""",
    SQLITE_BUMP,
]
POSTGRESQL_TABLE = [
    """CREATE TABLE IF NOT EXISTS folio_structure_generation
    (id integer PRIMARY KEY, value bigint NOT NULL)""",
    """CREATE OR REPLACE FUNCTION folio_structure_changed() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO folio_structure_generation (id, value)
        VALUES (1, floor(random() * 9e18)::bigint)
        ON CONFLICT (id) DO UPDATE SET value = EXCLUDED.value;
        RETURN NULL;
    END
    $$""",
    """INSERT INTO folio_structure_generation (id, value)
    VALUES (1, floor(random() * 9e18)::bigint)""",
]


def _sqlite(table: str) -> tuple[list[str], list[str]]:
    forward, reverse = [], []
    for op in ("INSERT", "UPDATE", "DELETE"):
        name = f"{table}_structure_{op.lower()}"
        forward.append(f"CREATE TRIGGER {name} AFTER {op} ON {table} BEGIN {SQLITE_BUMP}; END")
        reverse.append(f"DROP TRIGGER IF EXISTS {name}")
    return forward, reverse


def _postgresql(table: str) -> tuple[list[str], list[str]]:
    # Once per statement, not per row: a bulk write changes the value once.
    name = f"{table}_structure"
    return (
        [
            f"CREATE TRIGGER {name} AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION folio_structure_changed()"
        ],
        [f"DROP TRIGGER IF EXISTS {name} ON {table}"],
    )


def operations(tables: list[str], *, create_table: bool) -> tuple:
    """(forward, reverse) functions for migrations.RunPython."""

    def run(schema_editor, forward: bool) -> None:
        vendor = schema_editor.connection.vendor
        if vendor not in ("sqlite", "postgresql"):
            raise RuntimeError(f"no structure triggers for {vendor}")
        triggers = _sqlite if vendor == "sqlite" else _postgresql
        statements = []
        if forward and create_table:
            statements += SQLITE_TABLE if vendor == "sqlite" else POSTGRESQL_TABLE
        for table in tables:
            statements += triggers(table)[0 if forward else 1]
        if not forward and create_table:
            if vendor == "postgresql":
                statements.append("DROP FUNCTION IF EXISTS folio_structure_changed()")
            statements.append("DROP TABLE IF EXISTS folio_structure_generation")
        for sql in statements:
            schema_editor.execute(sql, None)  # None: literal SQL, no parameters

    return (
        lambda apps, schema_editor: run(schema_editor, True),
        lambda apps, schema_editor: run(schema_editor, False),
    )
