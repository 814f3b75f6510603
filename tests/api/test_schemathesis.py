"""Property-based run of the whole OpenAPI description (schemathesis, bounded): whatever
it sends, valid or not, the API never answers with a server error. On both backends:
PostgreSQL refuses inputs SQLite accepts (NUL characters, 64-bit integers)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from starlette.types import ASGIApp, Receive, Scope, Send

from controller.api.app import create_app
from controller.api.services import ApiServices
from tests.station.kit import PASSWORD, Kit, make_kit
from tests.support.databases import BACKENDS, database_url


class AppSlot:
    """The ASGI app schemathesis calls: the schema is loaded once at import, and each
    test (one per backend) points the slot at an app over its own fresh database."""

    def __init__(self) -> None:
        # Describing the API touches no service, so any app can serve openapi.json.
        self.app: ASGIApp = create_app(cast(ApiServices, None))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


SLOT = AppSlot()
schema = schemathesis.openapi.from_asgi("/v1/openapi.json", SLOT).exclude(
    path="/v1/auth/logout")  # would end the session the run is authenticated with


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Kit]:
    """One station per backend for the whole run (state accumulates, as in real use)."""
    tmp_path = tmp_path_factory.mktemp("schemathesis")
    with database_url(request.param, tmp_path) as url:
        kit = make_kit(url, tmp_path)
        yield kit
        kit.close()


@pytest.fixture(scope="module")
def admin_headers(backend: Kit) -> dict[str, str]:
    """Logged in once per backend (a login hashes a password: most of a case's cost)."""
    SLOT.app = create_app(backend.services)
    token = backend.services.auth.login("admin", PASSWORD).token
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.slow
@schema.parametrize()
@settings(max_examples=5, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_server_error(case: Any, admin_headers: dict[str, str]) -> None:
    response = case.call(headers=admin_headers)
    case.validate_response(response, checks=[not_a_server_error])
