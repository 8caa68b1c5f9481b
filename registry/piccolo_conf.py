"""Piccolo's configuration module (PICCOLO_CONF=registry.piccolo_conf).

It reads no environment: the settings are read once, by `Settings.from_env()`. `DB` starts as a
placeholder that refuses every query; the app, the command line and the tests bind the database their
settings name through `registry.db.use_database`. Piccolo's own `piccolo migrations new APP --auto` needs
no database (it compares the tables with the migration files), so it works with the placeholder. The
apps are those of the standard domains (registry.domains).
"""

from typing import Any

from piccolo.conf.apps import AppRegistry
from piccolo.engine.sqlite import SQLiteEngine

from registry.domains import standard_domains


class UnboundEngine(SQLiteEngine):
    """Stands in until `registry.db.use_database` binds a database; every query through it fails loudly
    instead of creating a stray SQLite file in the working directory."""

    def __init__(self) -> None:
        super().__init__(path=":memory:")

    def _refuse(self, *_args: Any, **_kwargs: Any) -> Any:
        raise RuntimeError("no database is bound: call registry.db.use_database(settings.database_url) first")

    run_querystring = run_ddl = transaction = atomic = _refuse


DB = UnboundEngine()

APP_REGISTRY = AppRegistry(apps=[domain.piccolo_app for domain in standard_domains() if domain.piccolo_app])
