import asyncio
import contextlib
import logging

from registry.domains import Domain, NavItem
from registry.specimens.api import MailboxController, SpecimenController
from registry.specimens.pages import SpecimenPages
from registry.specimens.service import MAILBOX_FLOW, SPECIMEN_FLOW, withdraw_lapsed

logger = logging.getLogger("registry.specimens")
# How often published specimens are checked for certificates that expired or were revoked meanwhile.
LAPSE_CHECK_SECONDS = 600
_tasks: list[asyncio.Task] = []


# The first check waits a little: a starting server has better things to do.
FIRST_CHECK_SECONDS = 30


async def _check_lapsed_forever() -> None:
    await asyncio.sleep(FIRST_CHECK_SECONDS)
    while True:
        try:
            count = await withdraw_lapsed()
            if count:
                logger.info("withdrew %d specimens whose certificates lapsed", count)
        except Exception:  # the next round tries again; a busy database is no reason to stop
            logger.exception("checking lapsed specimens failed")
        await asyncio.sleep(LAPSE_CHECK_SECONDS)


async def start_lapse_checks() -> None:
    _tasks.append(asyncio.get_running_loop().create_task(_check_lapsed_forever()))


async def stop_lapse_checks() -> None:
    while _tasks:
        task = _tasks.pop()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


DOMAIN = Domain(
    name="specimens",
    piccolo_app="registry.specimens.piccolo_app",
    api=[SpecimenController, MailboxController],
    pages=[SpecimenPages],
    flows=[SPECIMEN_FLOW, MAILBOX_FLOW],
    nav=[NavItem("/specimens", "Mẫu chữ ký", "specimen.submit", order=40)],
    on_startup=[start_lapse_checks],
    on_shutdown=[stop_lapse_checks],
)
