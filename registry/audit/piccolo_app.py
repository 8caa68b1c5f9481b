
from piccolo.conf.apps import AppConfig

from registry.audit.tables import AuditEntry, AuditHead
from registry.db import migrations_root

APP_CONFIG = AppConfig(
    app_name="audit",
    migrations_folder_path=str(migrations_root() / "audit"),
    table_classes=[AuditEntry, AuditHead],
    migration_dependencies=[],
    commands=[],
)
