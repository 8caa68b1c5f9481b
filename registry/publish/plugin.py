from registry.domains import Domain
from registry.publish.api import ROUTES
from registry.publish.pages import PAGES

DOMAIN = Domain(
    name="publish",
    api=ROUTES,
    pages=PAGES,
)
