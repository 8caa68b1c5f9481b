from piccolo.conf.apps import AppConfig

from registry.batches.tables import Batch, BatchFile, BatchUnmatched
from registry.db import migrations_root

APP_CONFIG = AppConfig(
    app_name="batches",
    migrations_folder_path=str(migrations_root() / "batches"),
    table_classes=[Batch, BatchFile, BatchUnmatched],
    migration_dependencies=["registry.agencies.piccolo_app", "registry.people.piccolo_app", "registry.auth.piccolo_app"],
    commands=[],
)
