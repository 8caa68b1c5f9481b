"""Piccolo's configuration module (PICCOLO_CONF=registry.piccolo_conf).

`DB` starts from the environment so that Piccolo's own CLI (`piccolo migrations new ... --auto`)
works; the app, the CLI and the tests rebind it through `registry.db.use_database`.
"""

import os
from pathlib import Path

from piccolo.conf.apps import AppRegistry

from registry.db import APPS, make_engine
from registry.settings import DATABASE_FILE

_data_dir = Path(os.environ.get("REGISTRY_DATA_DIR") or "./var").resolve()
DB = make_engine(os.environ.get("REGISTRY_DATABASE_URL") or f"sqlite:///{_data_dir / DATABASE_FILE}", prepare=False)

APP_REGISTRY = AppRegistry(apps=APPS)
