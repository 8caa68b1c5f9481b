from piccolo.conf.apps import AppConfig

from registry.db import migrations_root
from registry.specimens.tables import Mailbox, PublicationState, Specimen

APP_CONFIG = AppConfig(
    app_name="specimens",
    migrations_folder_path=str(migrations_root() / "specimens"),
    table_classes=[Specimen, Mailbox, PublicationState],
    migration_dependencies=["registry.agencies.piccolo_app", "registry.people.piccolo_app", "registry.auth.piccolo_app",
                            "registry.certs.piccolo_app"],
    commands=[],
)
