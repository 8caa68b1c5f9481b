from registry.accounts.api import AccountController, AccountRequestController
from registry.accounts.pages import AccountPages, my_accounts_section, person_section
from registry.accounts.service import ACCOUNT_FLOW
from registry.domains import Domain, NavItem, PageSection

DOMAIN = Domain(
    name="accounts",
    piccolo_app="registry.accounts.piccolo_app",
    api=[AccountRequestController, AccountController],
    pages=[AccountPages],
    flows=[ACCOUNT_FLOW],
    nav=[NavItem("/accounts", "Tài khoản", "signed_in", order=35)],
    me_sections=[PageSection("accounts/_me.html", my_accounts_section, order=30)],
    person_sections=[PageSection("accounts/_person.html", person_section, order=30)],
)
