from piccolo.conf.apps import AppConfig

from registry.agencies.tables import Agency, AgencyName, RegistrySetting
from registry.db import migrations_root

APP_CONFIG = AppConfig(
    app_name="agencies",
    migrations_folder_path=str(migrations_root() / "agencies"),
    table_classes=[Agency, AgencyName, RegistrySetting],
    migration_dependencies=[],
    commands=[],
)
