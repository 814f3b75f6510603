"""The frozen answers behind the snapshot tests are shaped exactly as the API shapes
them: each is validated against the response model of the route that would answer it, so
a change to the API cannot leave the snapshots rendering a commune the API never sends."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.routing import APIRoute
from pydantic import TypeAdapter
from starlette.routing import Match

import controller.api.app  # noqa: F401  (imports every route module)
from controller.api import routes as api_routes
from tests.tui.fakes import FrozenConnection

ROUTES = [r for module in vars(api_routes).values()
          if hasattr(module, "router")
          for r in module.router.routes if isinstance(r, APIRoute)]
CANNED = FrozenConnection().routes


def route_for(method: str, path: str) -> APIRoute:
    scope = {"type": "http", "method": method, "path": path, "root_path": ""}
    for route in ROUTES:
        match, _ = route.matches(scope)
        if match == Match.FULL:
            return route
    raise AssertionError(f"no API route answers {method} {path}")


@pytest.mark.parametrize(("method", "path"), sorted(CANNED))
def test_every_canned_answer_fits_its_routes_response_model(method: str, path: str) -> None:
    route = route_for(method, path)
    model: Any = route.response_model
    assert model is not None, f"{method} {path} declares no response model"
    TypeAdapter(model).validate_python(CANNED[(method, path)], strict=False)


def test_a_wrong_answer_would_be_caught() -> None:
    route = route_for("GET", "/agents")
    with pytest.raises(ValueError):
        TypeAdapter(route.response_model).validate_python([{"id": "x"}])
