from registry.domains import Domain, NavItem
from registry.trust import refresh
from registry.trust.api import TrustController, verify_certificate
from registry.trust.pages import TrustAdminPage, VerifyPage

DOMAIN = Domain(
    name="trust",
    piccolo_app="registry.trust.piccolo_app",
    api=[TrustController, verify_certificate],
    pages=[VerifyPage, TrustAdminPage],
    nav=[
        # Everyone, signed in or not, may check a certificate.
        NavItem("/verify", "Kiểm tra chứng thư", None, order=15),
        NavItem("/admin/trust", "Kho tin cậy", "trust.read", order=85),
    ],
    # The CRL refresh runs in every worker; a lease in the database keeps two from fetching the same list.
    on_startup=[refresh.start_worker],
    on_shutdown=[refresh.stop_worker],
)
