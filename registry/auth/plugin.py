from registry.auth.admin_pages import PasswordPages, UserAdminPages
from registry.auth.api import AccountController
from registry.auth.pages import AuthPages
from registry.auth.users_api import PasswordController, UserAdminController
from registry.domains import Domain, Landing, NavItem

DOMAIN = Domain(
    name="auth",
    piccolo_app="registry.auth.piccolo_app",
    api=[AccountController, UserAdminController, PasswordController],
    pages=[AuthPages, UserAdminPages, PasswordPages],
    nav=[NavItem("/me", "Của tôi", "signed_in", order=20), NavItem("/admin/users", "Người dùng", "user.manage", order=85)],
    # Administrators land on the users they manage.
    landings=[Landing("/admin/users", "user.manage", priority=30)],
)
