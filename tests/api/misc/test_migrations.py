"""The migrations build exactly the schema the models describe (a model change without its migration fails here)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import api.models  # noqa: F401 (every table)
from api.db import Base, make_engine


def test_models_and_migrations_agree(db_url):
    engine = make_engine(db_url)  # the seeded test database, migrated to head
    try:
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()
