from piccolo.conf.apps import AppConfig

from registry.db import migrations_root
from registry.people.tables import Person

APP_CONFIG = AppConfig(
    app_name="people",
    migrations_folder_path=str(migrations_root() / "people"),
    table_classes=[Person],
    migration_dependencies=["registry.agencies.piccolo_app"],
    commands=[],
)
