"""The tokens still to be returned after a revocation, by state and kind (issue 12, at 100,000 requests):
every page of a unit counts them (`batches.handover.todo_counter`: fulfilled or delivered revocations whose
token is due and not back). The partial index by agency could not serve that count, whose agency condition
is one branch of the reader's scope ("in my subtree, or filed by me, or about me"), so SQLite read every
fulfilled and delivered request instead: 330 ms at national size against 20 ms with this index. Both
engines; the planner's statistics are left as they are."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T16:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "tokens due, by state and kind"


async def add_index() -> None:
    await engine_finder().run_ddl(
        "CREATE INDEX IF NOT EXISTS cert_request_tokens_due_by_state ON cert_request (state, kind) "
        "WHERE token_return_due IS NOT NULL AND token_returned_at IS NULL")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="certs", description=DESCRIPTION)
    manager.add_raw(add_index)
    return manager
