from registry.domains import Domain
from registry.people.api import PeopleController

DOMAIN = Domain(name="people", piccolo_app="registry.people.piccolo_app", api=[PeopleController])
