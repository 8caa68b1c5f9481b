"""Every request writes one line to the log (registry.http.OperationsMiddleware). In a server's worker the line
is made with less work: its time text once per second, and nothing gathered that the format never shows (the
caller's file and line, thread and process; README, "A lighter log line"). The line is the same."""

from __future__ import annotations

import io
import logging
import os
import re

import pytest

from registry import http
from registry.app import create_app
from registry.settings import Settings
from tests.test_worker_gc import nothing_frozen, started_and_stopped  # noqa: F401 (a fixture)

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO registry\.request GET /health 200 [\d.]+ms "
                  r"request_id=[0-9a-f]+$")


def record_at(created: float) -> logging.LogRecord:
    record = logging.LogRecord("registry.request", logging.INFO, __file__, 1, "GET %s %d", ("/x", 200), None)
    record.created, record.msecs = created, (created - int(created)) * 1000
    return record


def test_the_line_is_the_standard_formatters() -> None:
    ours = http._LineFormatter()
    standard = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    # Within a second, across a second, back to an earlier second, across a day.
    for created in (1_780_000_000.0, 1_780_000_000.999, 1_780_000_001.001, 1_780_000_000.5, 1_780_086_399.9999,
                    1_780_086_400.0):
        assert ours.format(record_at(created)) == standard.format(record_at(created))


@pytest.fixture
def default_log_records():
    """The logging module's defaults, during the test and after it (a worker started by another test leaves
    them changed)."""
    defaults = (os.path.normcase(logging.addLevelName.__code__.co_filename), True, True, True)
    logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing = defaults
    yield
    logging._srcfile, logging.logThreads, logging.logProcesses, logging.logMultiprocessing = defaults


async def test_a_worker_gathers_only_what_the_line_shows(settings: Settings, migrated: str, nothing_frozen: None,  # noqa: F811
                                                         default_log_records: None) -> None:
    await started_and_stopped(settings, worker=False)
    assert logging._srcfile is not None and logging.logThreads
    await started_and_stopped(settings, worker=True)
    assert logging._srcfile is None
    assert not (logging.logThreads or logging.logProcesses or logging.logMultiprocessing)
    record = logging.getLogger("registry.request").makeRecord("registry.request", logging.INFO, "(unknown file)", 0,
                                                              "x", (), None)
    assert record.thread is None and record.process is None


async def test_a_workers_request_line_reads_as_before(settings: Settings, migrated: str, nothing_frozen: None,  # noqa: F811
                                                      default_log_records: None) -> None:
    from litestar.testing import AsyncTestClient

    from registry import db
    from tests.helpers import bind

    engine = db.current_engine()
    app = create_app(settings, worker=True)
    handler = next(h for h in logging.getLogger("registry").handlers if getattr(h, "_registry", False))
    stream, handler.stream = handler.stream, io.StringIO()
    try:
        async with AsyncTestClient(app) as client:
            assert logging._srcfile is None
            assert (await client.get("/health")).status_code == 200
        lines = [line for line in handler.stream.getvalue().splitlines() if "registry.request" in line]
    finally:
        handler.stream = stream
        bind(engine)
    assert len(lines) == 1 and LINE.match(lines[0]), lines
