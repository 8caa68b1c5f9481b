from registry.audit.api import audit_log
from registry.audit.pages import audit_page
from registry.domains import Domain, Landing, NavItem

DOMAIN = Domain(
    name="audit",
    piccolo_app="registry.audit.piccolo_app",
    api=[audit_log],
    pages=[audit_page],
    nav=[NavItem("/admin/audit", "Nhật ký", "audit.read", order=90)],
    landings=[Landing("/admin/audit", "audit.read", priority=40)],
)
