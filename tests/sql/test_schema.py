"""Schema readers (Spider json, CREATE TABLE text, SQLite file) and the CREATE TABLE renderer."""

from __future__ import annotations

import sqlite3

import pytest

from ragtune.errors import InputError
from ragtune.sql.schema import (
    Column,
    ForeignKey,
    Schema,
    Table,
    kind_of_type,
    quote_name,
    read_sample_rows,
    render_schema,
    schema_from_create_statements,
    schema_from_spider,
    schema_from_sqlite,
)

SPIDER_ENTRY = {
    "db_id": "perpetrator",
    "table_names_original": ["perpetrator", "people"],
    "column_names_original": [[-1, "*"], [0, "Perpetrator_ID"], [0, "People_ID"], [0, "Date"], [0, "Killed"],
                              [1, "People_ID"], [1, "Name"], [1, "Home Town"]],
    "column_types": ["text", "number", "number", "text", "number", "number", "text", "text"],
    "primary_keys": [1, 5],
    "foreign_keys": [[2, 5]],
}


def test_spider_entry_keeps_names_keys_and_kinds():
    s = schema_from_spider(SPIDER_ENTRY)
    assert s.db_id == "perpetrator"
    assert [t.name for t in s.tables] == ["perpetrator", "people"]
    perp = s.table("PERPETRATOR")  # case-insensitive lookup
    assert [c.name for c in perp.columns] == ["Perpetrator_ID", "People_ID", "Date", "Killed"]
    assert perp.primary_key == ("Perpetrator_ID",)
    assert perp.foreign_keys == (ForeignKey("People_ID", "people", "People_ID"),)
    assert perp.column("killed").kind == "number" and perp.column("killed").type == "NUMERIC"
    assert s.table("people").column("Home Town").kind == "text"


def test_spider_entry_missing_field_is_an_input_error():
    with pytest.raises(InputError, match="column_names_original"):
        schema_from_spider({"db_id": "x", "table_names_original": []})
    with pytest.raises(InputError, match="do not fit together"):
        schema_from_spider({**SPIDER_ENTRY, "foreign_keys": [[2, 99]]})


def test_all_spider_schemas_read_and_render_as_valid_sqlite(spider_schemas):
    assert len(spider_schemas) == 166
    for schema in spider_schemas.values():
        conn = sqlite3.connect(":memory:")
        conn.executescript(render_schema(schema))  # every rendered schema is valid DDL
        names = {r[0].lower() for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert names == {t.name.lower() for t in schema.tables}, schema.db_id


def test_create_statements_read_types_keys_and_references(shop_schema):
    shop = shop_schema.table("shop")
    assert [(c.name, c.kind) for c in shop.columns] == [
        ("shop_id", "number"), ("name", "text"), ("country_code", "text"), ("opened", "time"), ("rating", "number")]
    assert shop.primary_key == ("shop_id",)
    assert shop.foreign_keys == (ForeignKey("country_code", "country", "code"),)
    sale = shop_schema.table("sale")
    assert sale.primary_key == ("shop_id", "item")
    assert sale.foreign_keys == (ForeignKey("shop_id", "shop", "shop_id"),)


def test_create_context_style_without_semicolons_and_default_id():
    ddl = "CREATE TABLE head (age INTEGER, name VARCHAR) CREATE TABLE management (head_id VARCHAR)"
    s = schema_from_create_statements(ddl)
    assert [t.name for t in s.tables] == ["head", "management"]
    assert s.db_id.startswith("ddl-") and s.db_id == schema_from_create_statements(ddl).db_id
    assert s.db_id != schema_from_create_statements(ddl + " CREATE TABLE x (a INT)").db_id


def test_create_statements_errors_say_what_is_wrong():
    with pytest.raises(InputError, match="no CREATE TABLE"):
        schema_from_create_statements("SELECT 1")
    with pytest.raises(InputError, match="cannot parse"):
        schema_from_create_statements("CREATE TABLE (((")


def test_sqlite_file_round_trip_is_read_only(tmp_path, shop_schema):
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(render_schema(shop_schema) + "\nCREATE UNIQUE INDEX shop_name ON shop(name);")
    conn.close()
    before = path.read_bytes()
    s = schema_from_sqlite(path)
    assert path.read_bytes() == before
    assert s.db_id == "shop"
    assert s.table("shop").column("name").unique
    assert s.table("sale").primary_key == ("shop_id", "item")
    assert s.table("shop").foreign_keys == (ForeignKey("country_code", "country", "code"),)
    assert [(c.name, c.type) for c in s.table("shop").columns][:2] == [("shop_id", "INT"), ("name", "VARCHAR(40)")]


def test_sqlite_reader_keeps_the_declared_order_of_foreign_keys(tmp_path):
    # SQLite numbers foreign keys last-declared first; a prompt rendered from the file must equal the one
    # rendered from the Spider schema (a model tuned on one is evaluated on the other)
    ddl = ("CREATE TABLE a (id INT PRIMARY KEY); CREATE TABLE b (id INT PRIMARY KEY);"
           "CREATE TABLE ab (a_id INT, b_id INT, FOREIGN KEY (a_id) REFERENCES a(id), FOREIGN KEY (b_id) REFERENCES b(id));")
    declared = schema_from_create_statements(ddl, "x")
    path = tmp_path / "x.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(render_schema(declared))
    conn.close()
    read = schema_from_sqlite(path)
    assert [fk.column for fk in read.table("ab").foreign_keys] == ["a_id", "b_id"]
    assert render_schema(read) == render_schema(declared)


def test_sqlite_reader_refuses_missing_and_non_database_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        schema_from_sqlite(tmp_path / "nope.sqlite")
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database at all, just text" * 40)
    with pytest.raises(InputError, match="not a readable SQLite database"):
        schema_from_sqlite(junk)


def test_render_quotes_odd_names_and_keywords():
    table = Table("order", (Column("Home Town", "TEXT"), Column("group", "INTEGER", "number", primary_key=True),
                            Column("plain", "")))
    text = render_schema(Schema("x", (table,)))
    assert text == 'CREATE TABLE "order" ("Home Town" TEXT, "group" INTEGER PRIMARY KEY, plain);'
    assert quote_name('we"ird') == '"we""ird"'
    sqlite3.connect(":memory:").executescript(text)


def test_render_with_sample_rows(tmp_path, shop_schema):
    path = tmp_path / "shop.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(render_schema(shop_schema))
    conn.executemany("INSERT INTO country VALUES (?, ?, ?)", [("FR", "France", 68), ("SE", "Sweden", None),
                                                               ("NO", "Norway */ DROP", 5)])
    conn.commit()
    conn.close()
    rows = read_sample_rows(path, shop_schema, 2)
    assert rows["country"] == [("FR", "France", 68), ("SE", "Sweden", None)] and rows["shop"] == []
    text = render_schema(shop_schema, rows)
    assert "/* 2 example rows from country:\ncode\tname\tpopulation\nFR\tFrance\t68\nSE\tSweden\tNULL */" in text
    assert "from shop" not in text  # empty tables show no block
    three = render_schema(shop_schema, read_sample_rows(path, shop_schema, 3))
    assert "Norway * / DROP" in three  # a value cannot close the comment early
    sqlite3.connect(":memory:").executescript(three)


def test_schema_dict_round_trip_and_fingerprint(shop_schema):
    again = Schema.from_dict(shop_schema.to_dict())
    assert again == shop_schema and again.fingerprint() == shop_schema.fingerprint()
    other = Schema("shop", shop_schema.tables[:2])
    assert other.fingerprint() != shop_schema.fingerprint()


@pytest.mark.parametrize("sql_type,kind", [("VARCHAR(20)", "text"), ("INTEGER", "number"), ("REAL", "number"),
                                           ("DATETIME", "time"), ("DATE", "time"), ("BOOLEAN", "boolean"),
                                           ("", "others"), ("BLOB", "others"), ("DECIMAL(10,2)", "number")])
def test_kind_of_type(sql_type, kind):
    assert kind_of_type(sql_type) == kind
