"""The schema is made by migrations, and they match the models."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from portal.extensions import db


def test_migrated_schema_matches_the_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_migrations_downgrade_and_upgrade_cleanly(tmp_path, base_config):
    from portal import create_app

    app = create_app("testing", {**base_config,
                                 "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/m.db"})
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()
        assert "cases" in db.inspect(db.engine).get_table_names()
