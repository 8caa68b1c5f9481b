from registry.domains import Domain, PageSection
from registry.notify.pages import NotificationPages, my_notices_section, unread_counter

DOMAIN = Domain(
    name="notify",
    piccolo_app="registry.notify.piccolo_app",
    pages=[NotificationPages],
    todo_counters=[unread_counter],
    me_sections=[PageSection("notify/_me.html", my_notices_section, order=10)],
)
