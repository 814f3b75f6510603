"""Logging in and out, and who am I."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request, status
from fastapi.security import HTTPAuthorizationCredentials

from ..auth import Who, bearer, services_of
from ..errors import ERROR_RESPONSES
from ..schemas import LoginIn, TokenOut, UserOut

router = APIRouter(tags=["auth"], responses=ERROR_RESPONSES)


@router.post("/auth/login", response_model=TokenOut)
def login(request: Request, body: LoginIn) -> TokenOut:
    """Exchange a user name and password for a bearer token (valid ``api.token_ttl_hours``)."""
    issued = services_of(request).auth.login(body.username, body.password)
    return TokenOut.model_validate(issued)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, who: Who, credentials: Annotated[
        HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
    """Invalidate the token this request was made with (no-op on the local socket)."""
    if credentials is not None:
        services_of(request).auth.logout(credentials.credentials)


@router.get("/me", response_model=UserOut)
def me(request: Request, who: Who) -> UserOut:
    return UserOut.model_validate(services_of(request).users.me(who))
