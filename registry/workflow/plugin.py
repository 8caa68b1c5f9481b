from registry.domains import Domain, Landing, NavItem
from registry.workflow.api import InboxController
from registry.workflow.pages import InboxPages, pending_decisions_counter

DOMAIN = Domain(
    name="workflow",
    piccolo_app="registry.workflow.piccolo_app",
    api=[InboxController],
    pages=[InboxPages],
    nav=[NavItem("/inbox", "Phê duyệt", "inbox.read", order=40)],
    todo_counters=[pending_decisions_counter],
    # Heads land on the decisions waiting for them.
    landings=[Landing("/inbox", "request.decide", priority=20)],
)
