from piccolo.conf.apps import AppConfig

from registry.certs.tables import Certificate, CertRequest
from registry.db import migrations_root

APP_CONFIG = AppConfig(
    app_name="certs",
    migrations_folder_path=str(migrations_root() / "certs"),
    table_classes=[Certificate, CertRequest],
    migration_dependencies=["registry.agencies.piccolo_app", "registry.people.piccolo_app", "registry.auth.piccolo_app"],
    commands=[],
)
