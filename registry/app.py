"""The application factory."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import os
from pathlib import Path
from typing import Any, Literal

import jinja2
import markupsafe
import msgspec
from litestar import Litestar, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from registry import db, labels, timeutil
from registry.domains import Domain, Domains, standard_domains
from registry.http import (
    EXCEPTION_HANDLERS,
    ApiResponse,
    AppSettings,
    AuthenticationMiddleware,
    before_request,
    guards_on_handlers,
    instrument,
    lighten_log_records,
    problem_details_plugin,
    problems,
    provide_principal,
    provide_settings,
)
from registry.settings import Settings

logger = logging.getLogger("registry")

PACKAGE_DIR = Path(__file__).resolve().parent


class Health(msgspec.Struct):
    status: Literal["ok"]
    database: Literal["sqlite", "postgresql"]


@get("/health", tags=["system"], responses=problems(503))
async def health(settings: AppSettings) -> Health:
    """Liveness with a database round trip."""
    await db.current_engine().run_ddl("SELECT 1")
    return Health(status="ok", database=settings.engine_name)


@get("/favicon.ico", include_in_schema=False)
async def favicon() -> Redirect:
    """Browsers ask for /favicon.ico whatever the page says."""
    return Redirect("/static/favicon.svg", status_code=301)


def api_router(domains: Domains) -> Router:
    return Router(
        path="/api/v1",
        route_handlers=[handler for domain in domains.items for handler in domain.api],
        response_class=ApiResponse,
    )


# Every name a dict answers as an attribute (its methods, and object's): for these, `row.name` in a
# template means the attribute, as Jinja has it; any other name can only be a key.
_DICT_ATTRIBUTES = frozenset(dir(dict))
# markupsafe's escaping of a str into a str, under `markupsafe.escape` (a C function since markupsafe 3.0).
_escape_text = getattr(markupsafe, "_escape_inner", None) or (lambda text: str(markupsafe.escape(text)))


def _escaped_output(value: Any) -> str:
    """What `{{ value }}` writes to a page: markupsafe's escaping (its own C function) without the `Markup`
    object `markupsafe.escape` wraps every value in. A value written out is only ever joined with the rest of
    the output; Jinja wraps what it captures (macros, `{% set %}` blocks, call and filter blocks) in Markup
    itself. That wrapping was half of a 100-row table's rendering (760 µs against 350 µs), the same HTML."""
    if type(value) is str:
        return _escape_text(value)
    if hasattr(value, "__html__"):
        return value.__html__()
    return _escape_text(str(value))


class PageTemplate(jinja2.Template):
    @classmethod
    def from_code(cls, environment: jinja2.Environment, code: Any, globals: Any, uptodate: Any = None) -> Any:
        template = super().from_code(environment, code, globals, uptodate)
        # Every function of a compiled template reads `escape` from the template module's namespace, where
        # Jinja's code imported markupsafe's; Jinja calls it for output alone (`{{ … }}`).
        namespace = template.root_render_func.__globals__
        namespace["escape"] = _escaped_output
        template.root_render_func = _joined(template.root_render_func)
        for name, block in list(template.blocks.items()):
            joined = _joined(block)
            template.blocks[name] = joined
            # A block asks for its parent (`super()`) by handing over itself, under its function's name.
            namespace[block.__name__] = joined
        return template


def _joined(render: Any) -> Any:
    """A template's (or block's) render function that hands its output on as one piece.

    Jinja renders a page as a chain of generators: every piece a table row writes (each literal and each
    `{{ … }}`) is handed up through the include's loop, the `content` block, the base template's root and
    the page's own root before the page joins them. A certificates page of 100 rows writes some 3,000
    pieces; handing each up four levels was a quarter of its rendering (1.47 → 1.10 ms). Joined where it is
    written, each level hands up one string. Pages are rendered whole (nothing here streams), so nothing is
    lost."""

    def render_joined(context: Any) -> Any:
        yield "".join(render(context))

    render_joined.__wrapped__ = render  # type: ignore[attr-defined]
    return render_joined


class PageEnvironment(jinja2.Environment):
    """Jinja with a shorter way to `row.name` when the row is a dict, as almost every row a page shows is,
    and templates that write escaped values without wrapping each in Markup and hand their output up joined
    (`PageTemplate`).

    Jinja asks for the attribute first and for the key only after the AttributeError; that exception, raised
    for every cell of a 100-row table, was a quarter of the certificates page's rendering. Same answers:
    the names a dict has as attributes still go Jinja's way."""

    template_class = PageTemplate

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except (TypeError, LookupError):
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def template_engine(directory: Path) -> JinjaTemplateEngine:
    # Templates ship with the code and change only with a restart: no modification-time check per render.
    environment = PageEnvironment(loader=jinja2.FileSystemLoader(directory), autoescape=True, auto_reload=False)
    engine = JinjaTemplateEngine.from_environment(environment)
    environment.filters["vn"] = timeutil.display
    environment.filters["vn_date"] = lambda value: timeutil.display(value, with_time=False)
    environment.filters["pretty_json"] = lambda value: json.dumps(value, ensure_ascii=False, indent=1, default=str)
    environment.filters["field_label"] = labels.field_label
    environment.filters["show"] = labels.show
    environment.globals["flat_fields"] = labels.flat_fields
    return engine


def create_app(settings: Settings, domains: list[Domain] | None = None, *, worker: bool = False) -> Litestar:
    """The application of `domains` (the standard ones by default): their routes, pages, flows, menus,
    counters and background tasks. `worker`: the app is what a server's worker runs until the server stops
    (`registry serve`, `app_from_env`), and sets its lasting objects aside from garbage collection once
    started."""
    assembled = Domains(tuple(standard_domains() if domains is None else domains))
    engine = db.use_database(settings.database_url)

    async def start() -> None:
        await db.open_pool(engine)
        if worker:
            # Modules, routes, templates and the pool live as long as the worker. Frozen, they are no longer
            # walked by the collector's full passes, which held up every request arriving meanwhile:
            # /api/v1/me at 32 connections had a p99 of 75 ms (median 7 ms), 13 ms frozen (README).
            gc.collect()
            gc.freeze()
            lighten_log_records()
            # Which loop the server runs the worker on (uvloop under `registry serve`): told once, for whoever
            # reads the server's log.
            logger.info("worker %d ready on %s", os.getpid(), type(asyncio.get_running_loop()).__module__)

    async def stop() -> None:
        await db.close_pool(engine)

    app = Litestar(
        route_handlers=[
            health,
            favicon,
            api_router(assembled),
            *(handler for domain in assembled.items for handler in domain.pages),
            create_static_files_router(path="/static", directories=[PACKAGE_DIR / "static"], name="static"),
        ],
        dependencies={
            "principal": Provide(provide_principal),
            "settings": Provide(provide_settings),
        },
        middleware=[AuthenticationMiddleware],
        before_request=before_request,
        plugins=[problem_details_plugin()],
        exception_handlers=EXCEPTION_HANDLERS,
        template_config=TemplateConfig(instance=template_engine(PACKAGE_DIR / "templates")),
        openapi_config=OpenAPIConfig(
            title="Quảng Ninh certificate and specimen registry",
            version="1",
            path="/schema",
            render_plugins=[JsonRenderPlugin()],
        ),
        on_startup=[start, *(hook for domain in assembled.items for hook in domain.on_startup)],
        on_shutdown=[*(hook for domain in assembled.items for hook in domain.on_shutdown), stop],
        state=State({"settings": settings, "domains": assembled}),
        request_max_body_size=settings.max_upload_bytes,
        logging_config=LoggingConfig(log_exceptions="debug"),
        debug=False,
    )
    # The public portal's cached answers go out before routing (registry.publish.fastpath).
    from registry.publish.fastpath import wrap

    return instrument(wrap(guards_on_handlers(app)), settings)


def app_from_env() -> Litestar:
    """Entry point for ASGI servers (each worker reads the same environment)."""
    return create_app(Settings.from_env(), worker=True)
