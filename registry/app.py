"""The application factory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from litestar import Litestar, Router, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.logging import LoggingConfig
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template import TemplateConfig

from registry import db, timeutil, web
from registry.agencies.api import AgencyController
from registry.agencies.pages import AgencyPages
from registry.audit.api import audit_log
from registry.audit.pages import audit_page
from registry.auth.api import AccountController
from registry.auth.pages import AuthPages
from registry.certs.api import CertificateController
from registry.certs.pages import CertificatePages
from registry.certs.requests_api import CertRequestController
from registry.certs.requests_pages import RequestPages, my_page_section
from registry.home import home
from registry.http import (
    EXCEPTION_HANDLERS,
    AppSettings,
    ApiResponse,
    AuthenticationMiddleware,
    before_request,
    instrument,
    problem_details_plugin,
    provide_principal,
    provide_settings,
)
from registry.people.api import PeopleController
from registry.workflow import service as workflow
from registry.settings import Settings

PACKAGE_DIR = Path(__file__).resolve().parent


@get("/health", tags=["system"])
async def health(settings: AppSettings) -> dict[str, Any]:
    """Liveness with a database round trip."""
    await db.current_engine().run_ddl("SELECT 1")
    return {"status": "ok", "database": settings.engine_name}


def api_router() -> Router:
    return Router(
        path="/api/v1",
        route_handlers=[AgencyController, AccountController, PeopleController, CertificateController, CertRequestController, audit_log],
        response_class=ApiResponse,
    )


def template_engine(directory: Path) -> JinjaTemplateEngine:
    engine = JinjaTemplateEngine(directory=directory)
    environment = engine.engine
    environment.autoescape = True
    environment.filters["vn"] = timeutil.display
    environment.filters["vn_date"] = lambda value: timeutil.display(value, with_time=False)
    environment.filters["pretty_json"] = lambda value: json.dumps(value, ensure_ascii=False, indent=1, default=str)
    return engine


def register_page_extensions() -> None:
    """What domains add to shared pages: the to-do badge's counters and the sections of /me."""
    if workflow.todo_count not in web.TODO_COUNTERS:
        web.TODO_COUNTERS.append(workflow.todo_count)
    if not any(section.load is my_page_section for section in web.ME_SECTIONS):
        web.ME_SECTIONS.append(web.PageSection("requests/_me.html", my_page_section))


def create_app(settings: Settings) -> Litestar:
    engine = db.use_database(settings.database_url)
    register_page_extensions()

    async def start() -> None:
        await db.open_pool(engine)

    async def stop() -> None:
        await db.close_pool(engine)

    app = Litestar(
        route_handlers=[
            health,
            api_router(),
            home,
            AuthPages,
            AgencyPages,
            CertificatePages,
            RequestPages,
            audit_page,
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
        on_startup=[start],
        on_shutdown=[stop],
        state=State({"settings": settings}),
        request_max_body_size=settings.max_upload_bytes,
        logging_config=LoggingConfig(log_exceptions="debug"),
        debug=False,
    )
    return instrument(app, settings)


def app_from_env() -> Litestar:
    """Entry point for ASGI servers (each worker reads the same environment)."""
    return create_app(Settings.from_env())
