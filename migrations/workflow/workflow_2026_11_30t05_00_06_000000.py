"""Certificate requests move to the certs app's own table (`cert_request`) and their history to the
engine's `workflow_event`, ids kept; then the old shared tables go. Notices learn the page they lead to."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = "2026-11-30T05:00:06:000000"
VERSION = "1.38.0"
DESCRIPTION = "copy requests into cert_request and workflow_event"

COLUMNS = (
    "id, kind, state, version, agency, requester, subject, urgent, summary, search_key, details, decided_by, "
    "decided_at, decision_note, created_at, updated_at, certificate, issued_certificate, reason, batch_id"
)


async def copy_requests() -> None:
    engine = engine_finder()
    await engine.run_ddl(f"INSERT INTO cert_request ({COLUMNS}) SELECT {COLUMNS} FROM request WHERE domain = 'cert'")
    await engine.run_ddl(
        "INSERT INTO workflow_event (flow, record_id, at, actor_id, actor, transition, from_state, to_state, note) "
        "SELECT r.domain, e.request, e.at, e.actor_id, e.actor, e.transition, e.from_state, e.to_state, e.note "
        "FROM request_event e JOIN request r ON r.id = e.request ORDER BY e.id"
    )
    await engine.run_ddl(
        "UPDATE notification SET url = '/requests/' || request_id WHERE request_id IS NOT NULL AND url = ''"
    )
    if engine.engine_type == "postgres":
        # Ids were copied: the sequence must continue after them.
        await engine.run_ddl(
            "SELECT setval(pg_get_serial_sequence('cert_request', 'id'), "
            "COALESCE((SELECT MAX(id) FROM cert_request), 0) + 1, false)"
        )


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="workflow", description=DESCRIPTION)
    # Raw steps run before the table operations below.
    manager.add_raw(copy_requests)
    manager.drop_table(class_name="RequestEvent", tablename="request_event", schema=None)
    manager.drop_table(class_name="Request", tablename="request", schema=None)
    return manager
