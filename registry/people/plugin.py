from registry.domains import Domain, NavItem
from registry.people.api import PeopleController
from registry.people.pages import PeoplePages

DOMAIN = Domain(
    name="people",
    piccolo_app="registry.people.piccolo_app",
    api=[PeopleController],
    pages=[PeoplePages],
    nav=[NavItem("/people", "Cán bộ", "person.read", order=15)],
)
