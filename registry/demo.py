"""The demo province: Quảng Ninh's committee, some departments (one acting as DoIT), a city with its
units, and one user per role. Loading twice changes nothing."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import click
from cryptography.x509 import Name

from registry.agencies import service as agencies
from registry.auth import service as auth
from registry.auth.principal import system_principal
from registry.settings import Settings

OPERATOR_AGENCY = "000.00.16.H49"

AGENCIES_CSV = """code,name,parent_code,short_name,address,tax_code,budget_code,email
000.00.00.H49,Ủy ban nhân dân tỉnh Quảng Ninh,,UBND tỉnh,"Phường Hồng Gai, tỉnh Quảng Ninh",5700100256,1053432,ubnd@quangninh.gov.vn
000.00.01.H49,Văn phòng Ủy ban nhân dân tỉnh,000.00.00.H49,VP UBND tỉnh,"Phường Hồng Gai, tỉnh Quảng Ninh",,1053433,vpubnd@quangninh.gov.vn
000.00.02.H49,Sở Nội vụ,000.00.00.H49,SNV,"Phường Hồng Gai, tỉnh Quảng Ninh",,1053434,snv@quangninh.gov.vn
000.00.05.H49,Sở Tài chính,000.00.00.H49,STC,"Phường Hồng Gai, tỉnh Quảng Ninh",,1053435,stc@quangninh.gov.vn
000.00.16.H49,Sở Khoa học và Công nghệ,000.00.00.H49,Sở KH&CN,"Phường Hồng Gai, tỉnh Quảng Ninh",,1053436,skhcn@quangninh.gov.vn
000.01.16.H49,Trung tâm Công nghệ thông tin và Truyền thông,000.00.16.H49,Trung tâm CNTT&TT,"Phường Hồng Gai, tỉnh Quảng Ninh",,1053437,ttcntt@quangninh.gov.vn
000.00.21.H49,Ủy ban nhân dân thành phố Hạ Long,000.00.00.H49,UBND TP Hạ Long,"Phường Hồng Hà, thành phố Hạ Long",,1053438,ubndhalong@quangninh.gov.vn
000.01.21.H49,Văn phòng HĐND và UBND thành phố Hạ Long,000.00.21.H49,VP HĐND-UBND TP,"Phường Hồng Hà, thành phố Hạ Long",,1053439,vphalong@quangninh.gov.vn
000.02.21.H49,Phòng Tài chính - Kế hoạch thành phố Hạ Long,000.00.21.H49,Phòng TC-KH,"Phường Hồng Hà, thành phố Hạ Long",,1053440,tckh.halong@quangninh.gov.vn
000.10.21.H49,Ủy ban nhân dân phường Hồng Gai,000.00.21.H49,UBND phường Hồng Gai,"Phường Hồng Gai, thành phố Hạ Long",,1053441,honggai@quangninh.gov.vn
001.10.21.H49,Trạm Y tế phường Hồng Gai,000.10.21.H49,Trạm Y tế Hồng Gai,"Phường Hồng Gai, thành phố Hạ Long",,1053442,tramyte.honggai@quangninh.gov.vn
"""


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    agency_code: str
    roles: tuple[str, ...]
    position: str
    email: str


DEMO_USERS = (
    DemoUser("quantri", "Nguyễn Văn Quản", OPERATOR_AGENCY, ("admin",), "Chuyên viên quản trị hệ thống",
             "quantri@quangninh.gov.vn"),
    DemoUser("vanhanh", "Trần Thị Hạnh", OPERATOR_AGENCY, ("operator",), "Chuyên viên Phòng Chuyển đổi số",
             "vanhanh@quangninh.gov.vn"),
    DemoUser("thutruong", "Phạm Đức Trưởng", "000.00.21.H49", ("head",), "Chủ tịch UBND thành phố",
             "thutruong.halong@quangninh.gov.vn"),
    DemoUser("vanthu", "Lê Thị Thư", "000.00.21.H49", ("clerk",), "Văn thư", "vanthu.halong@quangninh.gov.vn"),
    DemoUser("canbo", "Hoàng Văn Bình", "000.02.21.H49", ("staff",), "Chuyên viên", "canbo.tckh@quangninh.gov.vn"),
    DemoUser("chutich", "Đặng Quốc Tỉnh", "000.00.00.H49", ("head",), "Chủ tịch UBND tỉnh",
             "chutich@quangninh.gov.vn"),
)


def demo_password(settings: Settings, username: str) -> str:
    """Stable per installation (so a second run can print it again), unguessable without the secret key."""
    digest = hmac.new(settings.secret_key.encode(), f"demo:{username}".encode(), hashlib.sha256).hexdigest()
    return f"Demo-{digest[:10]}"


async def load_demo(settings: Settings) -> list[tuple[DemoUser, str]]:
    actor = system_principal("demo")
    await agencies.import_csv(actor, AGENCIES_CSV.encode())
    if not settings.operator_agency:
        await agencies.set_operator_agency(actor, OPERATOR_AGENCY)
    credentials = []
    for user in DEMO_USERS:
        password = demo_password(settings, user.username)
        if await auth.find_user(user.username) is None:
            await auth.add_user(
                actor, username=user.username, full_name=user.full_name, agency_code=user.agency_code,
                roles=user.roles, password=password, position=user.position, email=user.email,
                operator_agency=settings.operator_agency,
            )
        credentials.append((user, password))
    await _load_certificates_and_requests(settings, actor)
    await _load_specimens()
    return credentials


def _demo_image(kind: str) -> bytes:
    """A red seal or a blue signature on a transparent background, drawn here (no file to ship)."""
    import io

    from PIL import Image, ImageDraw

    if kind == "org":
        image = Image.new("RGBA", (240, 240), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.ellipse((10, 10, 230, 230), outline=(200, 16, 32, 255), width=10)
        draw.ellipse((45, 45, 195, 195), outline=(200, 16, 32, 255), width=4)
        draw.regular_polygon((120, 120, 40), 5, fill=(200, 16, 32, 255))
    else:
        image = Image.new("RGBA", (320, 120), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.line((15, 90, 60, 20, 95, 95, 150, 30, 190, 85, 300, 40), fill=(16, 48, 180, 255), width=6, joint="curve")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


async def _load_specimens() -> None:
    """The city's seal and its chairman's signature published, with the city's mailbox (once)."""
    from registry.certs.tables import Certificate
    from registry.specimens import service as specimens
    from registry.specimens.tables import Mailbox, Specimen

    if await Specimen.count() > 0 or await Mailbox.count() > 0:
        return
    clerk = await auth.load_principal((await auth.get_user("vanthu"))["id"], via="demo")
    operator = await auth.load_principal((await auth.get_user("vanhanh"))["id"], via="demo")
    city = "000.00.21.H49"
    agency = await agencies.get_row(city)
    seal = await Certificate.select(Certificate.fingerprint).where(
        (Certificate.agency == agency["id"]) & (Certificate.kind == "org")).first()
    head = await Certificate.select(Certificate.fingerprint).where(
        Certificate.holder == (await auth.get_user("thutruong"))["person"]).first()
    if seal is None or head is None or clerk is None or operator is None:
        return
    submitted = [
        await specimens.submit_specimen(clerk, {"kind": "org", "agency_code": city, "certificate": seal["fingerprint"]},
                                        _demo_image("org")),
        await specimens.submit_specimen(clerk, {"kind": "leader", "agency_code": city, "certificate": head["fingerprint"],
                                                "full_name": "Phạm Đức Trưởng", "position": "Chủ tịch UBND thành phố"},
                                        _demo_image("leader")),
    ]
    for item in submitted:
        await specimens.publish(operator, specimens.SPECIMEN_FLOW, item["id"])
    mailbox = await specimens.propose_mailbox(clerk, city, "vanthu.halong@quangninh.gov.vn", source="demo")
    await specimens.publish(operator, specimens.MAILBOX_FLOW, mailbox["id"])


# (holder user name or None for the agency's seal, agency, days of validity left)
DEMO_CERTIFICATES = (
    ("canbo", "000.02.21.H49", 45),
    ("thutruong", "000.00.21.H49", 700),
    ("chutich", "000.00.00.H49", 900),
    (None, "000.00.21.H49", 1200),
)


async def _load_certificates_and_requests(settings: Settings, actor) -> None:
    """Certificates issued by the built-in test CA, and two requests waiting in the city head's inbox."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import NameAttribute
    from cryptography.x509.oid import NameOID

    from registry.certs import service as certs
    from registry.certs.tables import Certificate, CertRequest
    from registry.devca import service as devca

    if await Certificate.count().where(Certificate.source == "dev_ca") > 0:
        return
    ca = devca.get_ca(settings)
    # Its root, issuing CA and CRLs in the trust store, so that what it issues verifies on import.
    await devca.publish_to_trust_store(settings, actor)
    start = datetime.now(UTC)
    fingerprints = {}
    for username, agency_code, days_left in DEMO_CERTIFICATES:
        agency = await agencies.get_row(agency_code)
        parent = await agencies.find_row(agency["parent_code"]) if agency["parent_code"] else None
        attributes = [NameAttribute(NameOID.COUNTRY_NAME, "VN"), NameAttribute(NameOID.LOCALITY_NAME, "Quảng Ninh")]
        if username:
            user = next(u for u in DEMO_USERS if u.username == username)
            attributes += [NameAttribute(NameOID.ORGANIZATION_NAME, agency["name"]),
                           NameAttribute(NameOID.COMMON_NAME, user.full_name),
                           NameAttribute(NameOID.EMAIL_ADDRESS, user.email)]
            person_id = (await auth.get_user(username))["person"]
            email = user.email
        else:
            attributes += [NameAttribute(NameOID.ORGANIZATION_NAME, parent["name"] if parent else agency["name"]),
                           NameAttribute(NameOID.COMMON_NAME, agency["name"].upper())]
            person_id, email = None, None
        # Issued in the past (a certificate dated ahead would not verify yet), expiring in `days_left` days.
        age = max(3 * 365 - days_left, 1)
        issued = ca.issue(Name(attributes), not_before=start - timedelta(days=age), days=age + days_left, email=email)
        custodian = (await auth.get_user("vanthu"))["person"] if username is None else None
        created, _ = await certs.import_certificate(
            actor, issued.public_bytes(serialization.Encoding.PEM), holder_person_id=person_id,
            agency_code=agency_code, custodian_person_id=custodian, kind="personal" if username else "org",
            source="dev_ca",
        )
        fingerprints[username] = created["fingerprint"]
    if await CertRequest.count() == 0:
        clerk = await auth.load_principal((await auth.get_user("vanthu"))["id"], via="demo")
        from registry.certs import requests as cert_requests

        await cert_requests.file_request(clerk, settings, {
            "kind": "unlock", "agency_code": "000.00.21.H49", "certificate": fingerprints["canbo"],
            "detail": "Nhập sai mật khẩu quá số lần cho phép",
        })
        await cert_requests.file_request(clerk, settings, {
            "kind": "new_personal", "agency_code": "000.02.21.H49", "full_name": "Vũ Thị Mai",
            "date_of_birth": "1992-08-15", "id_number": "022192005678", "id_issued_on": "2021-05-20",
            "id_issued_by": "Cục Cảnh sát quản lý hành chính về trật tự xã hội", "email": "mai.vt@quangninh.gov.vn",
            "position": "Chuyên viên", "phone": "0912000111",
        })


def print_credentials(credentials: list[tuple[DemoUser, str]], settings: Settings) -> None:
    click.echo("Demo province loaded. Users (user name / password / roles):")
    for user, password in credentials:
        click.echo(f"  {user.username:<10} {password:<16} {', '.join(user.roles):<9} {user.full_name} — {user.agency_code}")
