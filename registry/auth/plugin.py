from registry.auth.api import AccountController
from registry.auth.pages import AuthPages
from registry.domains import Domain, NavItem

DOMAIN = Domain(
    name="auth",
    piccolo_app="registry.auth.piccolo_app",
    api=[AccountController],
    pages=[AuthPages],
    nav=[NavItem("/me", "Của tôi", "signed_in", order=20)],
)
