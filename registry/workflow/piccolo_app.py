from piccolo.conf.apps import AppConfig

from registry.db import migrations_root
from registry.workflow.tables import WorkflowEvent

APP_CONFIG = AppConfig(
    app_name="workflow",
    migrations_folder_path=str(migrations_root() / "workflow"),
    table_classes=[WorkflowEvent],
    # The certs app comes first: this app's history once held the certificate requests, which one of its
    # migrations copies into the certs app's own table (and notices learn their page).
    migration_dependencies=[
        "registry.agencies.piccolo_app",
        "registry.people.piccolo_app",
        "registry.auth.piccolo_app",
        "registry.certs.piccolo_app",
        "registry.notify.piccolo_app",
    ],
    commands=[],
)
