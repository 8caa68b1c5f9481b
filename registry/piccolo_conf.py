"""Piccolo's configuration module (PICCOLO_CONF=registry.piccolo_conf).

`DB` starts from the environment so that Piccolo's own CLI (`piccolo migrations new ... --auto`)
works; the app, the CLI and the tests rebind it through `registry.db.use_database`. The apps are those
of the standard domains (registry.domains), each with its tables and migrations.
"""

import os
from pathlib import Path

from piccolo.conf.apps import AppRegistry

from registry.db import make_engine
from registry.domains import standard_domains
from registry.settings import DATABASE_FILE

_data_dir = Path(os.environ.get("REGISTRY_DATA_DIR") or "./var").resolve()
DB = make_engine(os.environ.get("REGISTRY_DATABASE_URL") or f"sqlite:///{_data_dir / DATABASE_FILE}", prepare=False)

APP_REGISTRY = AppRegistry(apps=[domain.piccolo_app for domain in standard_domains() if domain.piccolo_app])
