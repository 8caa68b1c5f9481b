"""What the test CA publishes, like a real CA's repository: its chain and its CRLs (DER), public, so that
any verifier (the registry's CRL refresh included) can fetch them from the addresses in its certificates.
Every answer is 404 while the test CA is not enabled."""

from __future__ import annotations

from litestar import Controller, Response, get

from registry.devca import service
from registry.http import AppSettings

PEM_TYPE = "application/x-pem-file"
CRL_TYPE = "application/pkix-crl"


class DevCAFiles(Controller):
    path = "/dev-ca"
    tags = ["test CA"]
    include_in_schema = False

    @get("/chain.pem")
    async def chain(self, settings: AppSettings) -> Response[bytes]:
        """The TEST issuing CA and its TEST root, PEM."""
        return Response(service.chain_pem(settings), media_type=PEM_TYPE,
                        headers={"Content-Disposition": 'attachment; filename="ca-thu-nghiem.pem"'})

    @get("/crl")
    async def crl(self, settings: AppSettings) -> Response[bytes]:
        """The TEST issuing CA's CRL, made now from the registry's revocation records."""
        return Response(await service.crl_der(settings), media_type=CRL_TYPE,
                        headers={"Cache-Control": "no-cache"})

    @get("/root.crl")
    async def root_crl(self, settings: AppSettings) -> Response[bytes]:
        """The TEST root's CRL (it never revoked its issuing CA)."""
        return Response(service.root_crl_der(settings), media_type=CRL_TYPE, headers={"Cache-Control": "no-cache"})
