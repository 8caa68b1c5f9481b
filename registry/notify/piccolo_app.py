from piccolo.conf.apps import AppConfig

from registry.db import migrations_root
from registry.notify.tables import Notification, OutboxMessage

APP_CONFIG = AppConfig(
    app_name="notify",
    migrations_folder_path=str(migrations_root() / "notify"),
    table_classes=[Notification, OutboxMessage],
    migration_dependencies=["registry.auth.piccolo_app"],
    commands=[],
)
