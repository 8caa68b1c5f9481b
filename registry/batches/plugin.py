from registry.batches import handover
from registry.batches.api import BatchController, HandoverController
from registry.batches.pages import BatchPages, HandoverPages
from registry.batches.service import BATCH_FLOW
from registry.domains import Domain, Landing, NavItem

DOMAIN = Domain(
    name="batches",
    piccolo_app="registry.batches.piccolo_app",
    api=[BatchController, HandoverController],
    pages=[BatchPages, HandoverPages],
    flows=[BATCH_FLOW],
    nav=[
        NavItem("/batches", "Gửi CA", "request.process", order=45),
        NavItem("/handover", "Bàn giao", "request.confirm_receipt", order=46),
    ],
    todo_counters=[handover.todo_counter],
    # DoIT lands on its queue of approved requests and batches.
    landings=[Landing("/batches", "request.process", priority=10)],
)
