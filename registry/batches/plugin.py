from registry.batches.api import BatchController
from registry.batches.pages import BatchPages
from registry.batches.service import BATCH_FLOW
from registry.domains import Domain, NavItem

DOMAIN = Domain(
    name="batches",
    piccolo_app="registry.batches.piccolo_app",
    api=[BatchController],
    pages=[BatchPages],
    flows=[BATCH_FLOW],
    nav=[NavItem("/batches", "Gửi CA", "request.process", order=45)],
)
