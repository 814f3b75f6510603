"""The operator API application: versioned under ``/v1``, described by OpenAPI at
``/v1/openapi.json`` (interactive docs at ``/v1/docs``)."""

from __future__ import annotations

from fastapi import FastAPI

from controller.library.problems import LibraryProblem
from controller.scheduling.errors import ScheduleConflicts

from . import errors
from .routes import (
    attest,
    auth,
    backups,
    devices,
    emergency,
    enrolment,
    events,
    records,
    reports,
    schedule,
    signing,
    units,
    users,
)
from .routes import library as library_routes
from .services import ApiServices

API_VERSION = "1"


def create_app(services: ApiServices) -> FastAPI:
    app = FastAPI(title="loaxa operator API", version=f"{API_VERSION}.0",
                  description="The commune station's operator API. Every call is "
                              "authenticated (login token, or peer credentials on the local "
                              "socket) and authorised by role per administrative unit.",
                  openapi_url="/v1/openapi.json", docs_url="/v1/docs", redoc_url=None)
    app.state.services = services
    errors.install(app)
    app.add_exception_handler(LibraryProblem, library_routes.problem_response)
    app.add_exception_handler(ScheduleConflicts, schedule.conflict_response)
    for router in (auth.router, units.router, devices.router, enrolment.router,
                   users.router, records.router, signing.router, backups.router,
                   events.router, library_routes.router, schedule.router,
                   emergency.router, reports.router, attest.router):
        app.include_router(router, prefix="/v1")
    return app
