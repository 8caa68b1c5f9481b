"""The `registry` command (CONTRACT.md, "Command line"). Exit 0 on success, 2 on bad input with a
one-line reason on stderr, 1 when `audit verify` finds a break in the chain."""

from __future__ import annotations

import asyncio
import getpass
import importlib.util
import sys
from collections.abc import Awaitable, Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from registry import db
from registry.auth.permissions import ROLES
from registry.auth.principal import system_principal
from registry.errors import RegistryError
from registry.settings import Settings

T = TypeVar("T")
# Files with more rows than this get a progress bar.
PROGRESS_THRESHOLD = 500


class BadInput(click.ClickException):
    exit_code = 2


def fail(message: str) -> None:
    raise BadInput(message)


def load_settings() -> Settings:
    """The settings of this command: the environment, read once, here."""
    try:
        return Settings.from_env()
    except RegistryError as error:
        fail(error.detail)
    raise AssertionError("unreachable")


def run(work: Callable[[Settings], Awaitable[T]], *, settings: Settings | None = None,
        applies_migrations: bool = False) -> T:
    """Bind the database the settings name and run one async job.

    Only `serve` and `migrate` apply migrations (their job does, with `applies_migrations=True`); every
    other command refuses a database with pending migrations, whose tables may not be what the code expects."""
    settings = settings or load_settings()

    async def job() -> T:
        engine = db.use_database(settings.database_url)
        try:
            if not applies_migrations:
                pending = await db.pending_migrations()
                if pending:
                    fail(f"the database has {len(pending)} pending migration(s): run `registry migrate` first")
            return await work(settings)
        finally:
            await db.close_pool(engine)

    try:
        return asyncio.run(job())
    except RegistryError as error:
        fail(error.detail)
    except OSError as error:
        fail(f"cannot reach the database: {error}")
    raise AssertionError("unreachable")


def cli_actor() -> Any:
    """The system principal that audit entries of this command name: `cli:` and the operating-system user."""
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = "unknown"
    return system_principal(f"cli:{login}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """Certificate and signature-specimen registry of Quảng Ninh province."""


# --- serve and migrate --------------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--demo", is_flag=True, help="Load the demo province and print its users' credentials first.")
def serve(host: str, port: int, workers: int, demo: bool) -> None:
    """Apply pending migrations, then serve the registry."""
    from granian import Granian
    from granian.constants import Interfaces, Loops

    from registry.app import create_app

    settings = load_settings()
    if demo:
        settings = settings.with_changes(dev_ca=True)
    if not settings.public_url:
        # What the test CA writes as its CRL address: where this server listens.
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        settings = settings.with_changes(public_url=f"http://{shown_host}:{port}")

    async def prepare(settings: Settings) -> Settings:
        await db.migrate()
        await _default_trust_anchor()
        if demo:
            from registry.demo import load_demo, print_credentials

            print_credentials(await load_demo(settings), settings)
        return settings

    run(prepare, settings=settings, applies_migrations=True)
    click.echo(f"Registry on http://{host}:{port}/ ({settings.engine_name}, data in {settings.data_dir})", err=True)
    server = Granian(
        "registry.app:app_from_env",  # what an external `granian --factory` would load; here only a label
        address=host,
        port=port,
        workers=workers,
        interface=Interfaces.ASGI,
        # uvloop where it is installed (a dependency except on Windows): 10-32 % more requests a second on
        # PostgreSQL, and lower p99s (README, "Why these dependencies"). Named rather than left to granian's
        # "auto", which would prefer the younger rloop if that were ever installed beside it.
        loop=Loops.uvloop if importlib.util.find_spec("uvloop") else Loops.asyncio,
        factory=True,
        log_access=False,
    )
    # Every worker builds its app from the settings resolved above, handed over as an argument (pickled to
    # the worker when processes are spawned), not from the environment: nothing is read twice, and no
    # worker can see other settings than this process printed.
    server.serve(target_loader=partial(create_app, settings, worker=True), wrap_loader=False)


async def _default_trust_anchor() -> None:
    """A new installation trusts the government CA's G2 root (kept in the package) from the start."""
    from registry.trust import service as trust

    await trust.ensure_default_anchor()


@cli.command()
def migrate() -> None:
    """Apply pending database migrations."""

    async def work(_settings: Settings) -> list[str]:
        applied = await db.migrate()
        await _default_trust_anchor()
        return applied

    applied = run(work, applies_migrations=True)
    click.echo(f"applied {len(applied)} migration(s)" if applied else "no pending migrations")


@cli.command()
def maintain() -> None:
    """Put the certificate search's own indexes back in shape (for a quiet hour; changes no data)."""
    from registry.certs import service as certs

    async def work(_settings: Settings) -> str:
        return await certs.tidy_search_indexes()

    click.echo(run(work))


# --- agencies -----------------------------------------------------------------------------------


@cli.group()
def agency() -> None:
    """Agencies of the tree."""


def progress_bar(enabled: bool) -> Callable[[Iterable[T], str, int], Iterable[T]]:
    def track(items: Iterable[T], label: str, total: int) -> Iterable[T]:
        if not enabled:
            yield from items
            return
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
        with Progress(*columns, transient=True) as progress:
            task = progress.add_task(label, total=total)
            for item in items:
                yield item
                progress.advance(task)

    return track


@agency.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def agency_import(file: Path) -> None:
    """Import FILE.csv (header code,name,parent_code; optional short_name, address, tax_code,
    budget_code, email). Every row is checked first; any error rejects the whole file."""
    from registry.agencies import service

    try:
        content = file.read_bytes()
    except OSError as error:
        fail(f"{file}: {error.strerror}")

    async def work(_settings: Settings):
        big = content.count(b"\n") > PROGRESS_THRESHOLD
        return await service.import_csv(cli_actor(), content, progress=progress_bar(big and sys.stderr.isatty()))

    try:
        summary = run(work)
    except BadInput as error:
        fail(f"{file}: {error.message}")
    click.echo(f"imported {summary.total} agencies: {summary.created} created, {summary.updated} updated, "
               f"{summary.unchanged} unchanged")


# --- users and tokens ---------------------------------------------------------------------------


@cli.group()
def user() -> None:
    """User accounts."""


@user.command("add")
@click.argument("username")
@click.option("--name", "full_name", required=True, help="Full name, as on the citizen ID.")
@click.option("--agency", "agency_code", required=True, help="Agency code (QCVN 102).")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES), help="Repeat for several.")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
@click.option("--position", default="", help="Position (chức vụ).")
@click.option("--email", default="", help="Official email.")
def user_add(username: str, full_name: str, agency_code: str, roles: tuple[str, ...], password_stdin: bool,
             position: str, email: str) -> None:
    """Add a user with roles over their agency (operator and admin: over the whole province)."""
    from registry.auth import service

    password = sys.stdin.readline().rstrip("\r\n")

    async def work(settings: Settings):
        return await service.add_user(
            cli_actor(), username=username, full_name=full_name, agency_code=agency_code, roles=roles,
            password=password, position=position, email=email, operator_agency=settings.operator_agency,
        )

    created = run(work)
    grants = ", ".join(f"{g['role']}@{g['agency_code']}" for g in created["roles"])
    click.echo(f"added user {created['username']} ({grants})")


@user.command("grant")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", "agency_code", default=None, help="Agency the role reaches (default: the user's).")
def user_grant(username: str, role: str, agency_code: str | None) -> None:
    """Grant USERNAME a role over an agency and its subtree."""
    from registry.auth import service

    async def work(settings: Settings):
        return await service.grant_role(cli_actor(), username, role, agency_code=agency_code,
                                        operator_agency=settings.operator_agency)

    click.echo(_roles_line(run(work)))


@user.command("revoke")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", "agency_code", default=None, help="Only the grant over this agency.")
def user_revoke(username: str, role: str, agency_code: str | None) -> None:
    """End USERNAME's grant of a role (kept on record with its end date)."""
    from registry.auth import service

    click.echo(_roles_line(run(lambda _settings: service.revoke_role(cli_actor(), username, role, agency_code=agency_code))))


@user.command("deactivate")
@click.argument("username")
def user_deactivate(username: str) -> None:
    """Deactivate USERNAME: sessions end and tokens stop working; nothing is deleted."""
    from registry.auth import service

    click.echo(_roles_line(run(lambda _settings: service.set_active(cli_actor(), username, False))))


def _roles_line(detail: dict[str, Any]) -> str:
    grants = ", ".join(f"{g['role']}@{g['agency_code']}" for g in detail["roles"]) or "no roles"
    state = "" if detail["active"] else " (deactivated)"
    return f"{detail['username']}{state}: {grants}"


@cli.group()
def token() -> None:
    """API bearer tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", show_default=True, help="What the token is for.")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None, help="Expire after this many days.")
def token_create(username: str, name: str, expires_days: int | None) -> None:
    """Print a new bearer token for USERNAME, alone on stdout."""
    from registry.auth import service

    async def work(_settings: Settings) -> str:
        plain, _row = await service.create_token(cli_actor(), username, name=name, expires_days=expires_days)
        return plain

    click.echo(run(work))


@token.command("list")
@click.argument("username")
def token_list(username: str) -> None:
    """List USERNAME's tokens (never their values)."""
    from registry.auth import service
    from registry.timeutil import isoformat

    rows = run(lambda _settings: service.list_tokens(cli_actor(), username))
    for row in rows:
        state = "revoked" if row["revoked_at"] else "active"
        click.echo(f"{row['id']}\t{row['prefix']}…\t{row['name']}\t{state}\tlast used {isoformat(row['last_used_at']) or 'never'}")


@token.command("revoke")
@click.argument("token_id", type=int)
def token_revoke(token_id: int) -> None:
    """Revoke a token by its id (see `token list`)."""
    from registry.auth import service

    run(lambda _settings: service.revoke_token(cli_actor(), token_id))
    click.echo(f"revoked token {token_id}")


# --- audit --------------------------------------------------------------------------------------


@cli.group()
def audit() -> None:
    """The audit log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain: prints `ok N entries`, or names the first broken entry and exits 1."""
    from registry.audit import service

    result = run(lambda _settings: service.verify())
    if result.ok:
        click.echo(f"ok {result.count} entries")
        return
    click.echo(f"broken: {result.problem}", err=True)
    sys.exit(1)


# --- generated data for benchmarks ----------------------------------------------------------------


@cli.command()
@click.option("--agencies", type=int, default=10_000, show_default=True, help="Agencies, in a deep tree.")
@click.option("--people", type=int, default=200_000, show_default=True, help="People of those agencies.")
@click.option("--certificates", type=int, default=1_000_000, show_default=True,
              help="Certificates, with renewal histories, revocations and expiries.")
@click.option("--requests", type=int, default=100_000, show_default=True, help="Certificate requests in every state.")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the random choices.")
@click.option("--password", default=None, help="Password of every generated user (default: none, tokens only).")
def generate(agencies: int, people: int, certificates: int, requests: int, seed: int, password: str | None) -> None:
    """Fill an empty, migrated database with realistic generated data (for benchmarks)."""
    from registry.generate import Size
    from registry.generate import generate as fill

    size = Size(agencies=agencies, people=people, certificates=certificates, requests=requests)
    try:
        size.check()
    except RegistryError as error:
        fail(error.detail)

    async def work(_settings: Settings) -> Any:
        password_hash = ""
        if password:
            from registry.auth.service import hash_password

            password_hash = await hash_password(password)
        return await fill(size, seed=seed, password_hash=password_hash, progress=lambda line: click.echo(line, err=True))

    summary = run(work)
    click.echo(f"generated {summary.agencies} agencies, {summary.people} people, {summary.users} users, "
               f"{summary.certificates} certificates, {summary.requests} requests, {summary.audit_entries} audit entries")


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help() if error.ctx else str(error))
        sys.exit(2)
    except click.ClickException as error:
        # One line: the reason, never a usage dump.
        click.echo(f"registry: {error.format_message()}".replace("\n", " "), err=True)
        sys.exit(2 if isinstance(error, (BadInput, click.UsageError)) else error.exit_code)
    except click.Abort:
        click.echo("registry: aborted", err=True)
        sys.exit(1)
