"""Authentication of every API call: a bearer token, or the Unix peer of the local socket.

A token, when present, wins (a script may act as another loaxa user than the Unix
account it runs under). Without one, a connection on the local socket is the loaxa user
mapped to the peer's Unix user name. Anything else is refused.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from controller.i18n import N_
from controller.registry.errors import Unauthenticated
from controller.security.authz import Principal

from .peercred import SCOPE_KEY, PeerCredentials
from .services import ApiServices

bearer = HTTPBearer(auto_error=False, description="A token from POST /v1/auth/login.")


def services_of(connection: HTTPConnection) -> ApiServices:
    services: ApiServices = connection.app.state.services
    return services


def authenticate(connection: HTTPConnection, token: str | None) -> Principal:
    services = services_of(connection)
    if token:
        return services.auth.principal_for_token(token)
    peer = connection.scope.get(SCOPE_KEY)
    if isinstance(peer, PeerCredentials):
        return services.auth.principal_for_unix_user(peer.user, source="local")
    raise Unauthenticated(N_("Log in first: send a token, or use the local socket as a "
                             "mapped Unix user."))


def current_principal(request: Request, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Principal:
    principal = authenticate(request, credentials.credentials if credentials else None)
    request.state.principal = principal
    return principal


Who = Annotated[Principal, Depends(current_principal)]
