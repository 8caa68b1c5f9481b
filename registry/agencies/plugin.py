from registry.agencies.api import AgencyController
from registry.agencies.pages import AgencyPages
from registry.domains import Domain, NavItem

DOMAIN = Domain(
    name="agencies",
    piccolo_app="registry.agencies.piccolo_app",
    api=[AgencyController],
    pages=[AgencyPages],
    nav=[NavItem("/", "Tra cứu", order=0), NavItem("/agencies", "Cơ quan, đơn vị", order=10)],
)
