"""CRL refresh against a real HTTP server on 127.0.0.1 (threading http.server): a CRL fetched from the
distribution point a store certificate names replaces the old one; a server that hangs, answers an error or
sends far too much is abandoned within its limits, the last good CRL stays in use and the failure shows; two
workers refreshing at once fetch each list once (the lease)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from registry.trust import refresh
from registry.trust import service as trust
from registry.trust.tables import CrlSource, TrustItem
from tests import pki
from tests.helpers import SYSTEM


class CrlServer:
    """/good.crl serves `self.crl`; /hang.crl never answers; /huge.crl streams without end; /gone.crl is a 404."""

    def __init__(self) -> None:
        self.crl = b""
        self.hits: dict[str, int] = {}
        self.release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                server.hits[self.path] = server.hits.get(self.path, 0) + 1
                if self.path == "/good.crl":
                    time.sleep(0.2)  # long enough for a second worker to try the same source meanwhile
                    self.send_response(200)
                    self.send_header("Content-Type", "application/pkix-crl")
                    self.send_header("Content-Length", str(len(server.crl)))
                    self.end_headers()
                    self.wfile.write(server.crl)
                elif self.path == "/hang.crl":
                    server.release.wait(30)
                elif self.path == "/huge.crl":
                    # "1 GB", sent without a Content-Length, until the client gives up.
                    self.send_response(200)
                    self.end_headers()
                    block = b"\x30" * 65536
                    try:
                        for _ in range(16384):
                            self.wfile.write(block)
                    except OSError:
                        pass
                else:
                    self.send_error(404)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> CrlServer:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[CrlServer]:
    with CrlServer() as live:
        yield live


@pytest.fixture(autouse=True)
def fresh_context() -> None:
    trust.forget_cached_context()


FAST = {"timeout": 1.0, "deadline": 3.0, "max_bytes": 1024 * 1024}


async def test_refresh_replaces_the_crl_and_failures_keep_the_last_good_one(migrated, server: CrlServer) -> None:
    root = pki.root("Root CA cập nhật CRL", crl_url=f"{server.url}/good.crl")
    issuing = root.intermediate("CA cấp 2 cập nhật CRL")
    await trust.add_to_store(SYSTEM, pki.pem(root.cert), "anchor")
    await trust.add_to_store(SYSTEM, pki.pem(issuing.cert), "intermediate")  # names the root's CRL at /good.crl
    first = root.crl(number=1, this_update=pki.now() - timedelta(hours=2))
    await trust.add_to_store(SYSTEM, pki.der(first), "crl")
    await trust.add_to_store(SYSTEM, pki.der(issuing.crl()), "crl")
    cert = issuing.issue("Người dùng CA cấp 2")
    assert (await trust.verify(pki.der(cert))).status == "valid"

    # The CA revokes the issuing CA and publishes a new CRL at its distribution point.
    root.revoke(issuing.cert)
    server.crl = pki.der(root.crl(number=2))
    outcomes = await refresh.refresh_due(**FAST)
    assert outcomes == {f"{server.url}/good.crl": ""}
    current = await TrustItem.select().where((TrustItem.kind == "crl") & TrustItem.superseded_at.is_null()
                                             & (TrustItem.source == "refresh")).first()
    assert current is not None and current["crl_number"] == "2"
    assert (await trust.verify(pki.der(cert))).status == "revoked"
    source = await CrlSource.select().where(CrlSource.url == f"{server.url}/good.crl").first()
    assert source["last_success_at"] is not None and source["failures"] == 0 and source["lease_owner"] == ""
    assert not await refresh.refresh_due(**FAST)  # not due again yet

    # A forged CRL at the same place is refused; the good one stays.
    await CrlSource.update({CrlSource.next_due_at: None}).where(CrlSource.id == source["id"])
    server.crl = pki.der(root.crl(number=3, signer=pki.key()))
    [reason] = (await refresh.refresh_due(**FAST)).values()
    assert "không dùng được" in reason and "giả mạo" in reason
    still = await TrustItem.select(TrustItem.crl_number).where((TrustItem.kind == "crl") & TrustItem.superseded_at.is_null()
                                                               & (TrustItem.issuer == root.cert.subject.rfc4514_string())).first()
    assert still is not None and still["crl_number"] == "2"
    assert (await trust.verify(pki.der(cert))).status == "revoked"


async def test_hanging_oversized_and_missing_servers_are_abandoned(migrated, server: CrlServer) -> None:
    hang = pki.root("Root CA treo", crl_url=f"{server.url}/hang.crl")
    huge = pki.root("Root CA quá lớn", crl_url=f"{server.url}/huge.crl")
    gone = pki.root("Root CA mất", crl_url=f"{server.url}/gone.crl")
    for root in (hang, huge, gone):
        await trust.add_to_store(SYSTEM, pki.pem(root.cert), "anchor")
        await trust.add_to_store(SYSTEM, pki.pem(root.intermediate(f"Cấp 2 của {root.cert.subject.rfc4514_string()[:20]}").cert), "intermediate")
        await trust.add_to_store(SYSTEM, pki.der(root.crl()), "crl")
    crls_before = await TrustItem.select(TrustItem.fingerprint).where(TrustItem.kind == "crl")
    started = time.monotonic()
    outcomes = await refresh.refresh_due(**FAST)
    elapsed = time.monotonic() - started
    assert "không trả lời" in outcomes[f"{server.url}/hang.crl"]
    assert "vượt giới hạn" in outcomes[f"{server.url}/huge.crl"]
    assert "HTTP 404" in outcomes[f"{server.url}/gone.crl"]
    # Nobody waits on a hung download: each gives up within its timeout or deadline.
    assert elapsed < 3 * (FAST["deadline"] + 1)
    assert server.hits.get("/huge.crl") == 1
    # The last good CRLs stay in use, and the store says what failed.
    assert await TrustItem.select(TrustItem.fingerprint).where(TrustItem.kind == "crl") == crls_before
    store = await trust.list_store(SYSTEM)
    failed = {s.url: s for s in store.crl_sources}
    for path in ("hang", "huge", "gone"):
        source = failed[f"{server.url}/{path}.crl"]
        assert source.failures == 1 and source.last_error and source.last_success_at is None
        assert source.next_due_at > trust.now()  # retried later, not in a loop
    leaf = hang.intermediate("Cấp 2 khác").issue("Ai đó")
    assert (await trust.verify(pki.der(leaf))).status != "revoked"


async def test_two_workers_fetch_each_list_once(migrated, server: CrlServer) -> None:
    root = pki.root("Root CA hai tiến trình", crl_url=f"{server.url}/good.crl")
    await trust.add_to_store(SYSTEM, pki.pem(root.cert), "anchor")
    await trust.add_to_store(SYSTEM, pki.pem(root.intermediate("Cấp 2 hai tiến trình").cert), "intermediate")
    server.crl = pki.der(root.crl())
    first, second = await asyncio.gather(refresh.refresh_due(**FAST), refresh.refresh_due(**FAST))
    assert server.hits.get("/good.crl") == 1
    assert sorted([len(first), len(second)]) == [0, 1]


async def test_the_store_page_shows_failures_and_staleness(client, province, server: CrlServer) -> None:
    from tests.helpers import sign_in

    root = pki.root("Root CA trang lỗi", crl_url=f"{server.url}/gone.crl")
    await trust.add_to_store(SYSTEM, pki.pem(root.cert), "anchor")
    await trust.add_to_store(SYSTEM, pki.pem(root.intermediate("Cấp 2 trang lỗi").cert), "intermediate")
    await trust.add_to_store(SYSTEM, pki.der(root.crl(next_update=pki.now() + timedelta(seconds=2))), "crl")
    await refresh.refresh_due(**FAST)
    await asyncio.sleep(2.2)
    await sign_in(client, "admin")
    page = await client.get("/admin/trust")
    assert "HTTP 404" in page.text and "đang dùng CRL tốt gần nhất" in page.text
    assert 'data-status="stale"' in page.text and "Quá hạn 0 giờ" in page.text


def test_fetch_refuses_other_schemes() -> None:
    with pytest.raises(refresh.FetchFailed):
        refresh.fetch("file:///etc/passwd")
    with pytest.raises(refresh.FetchFailed):
        refresh.fetch("ldap://ca.example/cn=crl")
