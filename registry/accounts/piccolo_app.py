from piccolo.conf.apps import AppConfig

from registry.accounts.tables import Account, AccountRequest
from registry.db import migrations_root

APP_CONFIG = AppConfig(
    app_name="accounts",
    migrations_folder_path=str(migrations_root() / "accounts"),
    table_classes=[Account, AccountRequest],
    migration_dependencies=["registry.agencies.piccolo_app", "registry.people.piccolo_app", "registry.auth.piccolo_app"],
    commands=[],
)
