from registry.certs.api import CertificateController
from registry.certs.pages import CertificatePages
from registry.certs.requests import CERT_FLOW
from registry.certs.requests_api import CertRequestController
from registry.certs.requests_pages import RequestPages, my_page_section, person_section
from registry.domains import Domain, NavItem, PageSection

DOMAIN = Domain(
    name="certs",
    piccolo_app="registry.certs.piccolo_app",
    api=[CertificateController, CertRequestController],
    pages=[CertificatePages, RequestPages],
    flows=[CERT_FLOW],
    nav=[
        NavItem("/requests", "Yêu cầu", "signed_in", order=30),
        NavItem("/certificates", "Chứng thư số", "certificate.read", order=50),
    ],
    me_sections=[PageSection("requests/_me.html", my_page_section, order=20)],
    person_sections=[PageSection("requests/_person.html", person_section, order=20)],
)
