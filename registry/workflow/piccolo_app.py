from piccolo.conf.apps import AppConfig

from registry.db import migrations_root
from registry.workflow.tables import Request, RequestEvent

APP_CONFIG = AppConfig(
    app_name="workflow",
    migrations_folder_path=str(migrations_root() / "workflow"),
    table_classes=[Request, RequestEvent],
    migration_dependencies=[
        "registry.agencies.piccolo_app",
        "registry.people.piccolo_app",
        "registry.auth.piccolo_app",
        "registry.certs.piccolo_app",
    ],
    commands=[],
)
