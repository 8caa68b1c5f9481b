from piccolo.conf.apps import AppConfig

from registry.auth.tables import ApiToken, AuthSession, LoginAttempt, PasswordReset, RoleAssignment, UserAccount
from registry.db import migrations_root

APP_CONFIG = AppConfig(
    app_name="auth",
    migrations_folder_path=str(migrations_root() / "auth"),
    table_classes=[UserAccount, RoleAssignment, ApiToken, AuthSession, LoginAttempt, PasswordReset],
    migration_dependencies=["registry.agencies.piccolo_app", "registry.people.piccolo_app"],
    commands=[],
)
