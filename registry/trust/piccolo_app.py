from piccolo.conf.apps import AppConfig

from registry.db import migrations_root
from registry.trust.tables import CrlSource, TrustItem, TrustState

APP_CONFIG = AppConfig(
    app_name="trust",
    migrations_folder_path=str(migrations_root() / "trust"),
    table_classes=[TrustItem, TrustState, CrlSource],
    migration_dependencies=[],
    commands=[],
)
