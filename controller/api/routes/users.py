"""Users, passwords and role grants."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from controller.storage.tables.security import Role

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES
from ..schemas import GrantIn, PasswordIn, UserChangeIn, UserIn, UserOut
from .params import KeyPath

router = APIRouter(tags=["users"], responses=ERROR_RESPONSES)


@router.get("/users", response_model=list[UserOut])
def list_users(request: Request, who: Who) -> list[UserOut]:
    return [UserOut.model_validate(u) for u in services_of(request).users.list_users(who)]


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(request: Request, who: Who, body: UserIn) -> UserOut:
    return UserOut.model_validate(services_of(request).users.create(
        who, body.username, display_name=body.display_name, password=body.password,
        unix_user=body.unix_user, language=body.language))


@router.get("/users/{username}", response_model=UserOut)
def get_user(request: Request, who: Who, username: KeyPath) -> UserOut:
    return UserOut.model_validate(services_of(request).users.get(who, username))


@router.patch("/users/{username}", response_model=UserOut)
def update_user(request: Request, who: Who, username: KeyPath, body: UserChangeIn) -> UserOut:
    return UserOut.model_validate(services_of(request).users.update(
        who, username, display_name=body.display_name, unix_user=body.unix_user,
        clear_unix_user=body.clear_unix_user, language=body.language,
        disabled=body.disabled))


@router.put("/users/{username}/password", status_code=status.HTTP_204_NO_CONTENT)
def set_password(request: Request, who: Who, username: KeyPath, body: PasswordIn) -> None:
    """Change your own password (with the current one), or reset a managed user's."""
    services_of(request).users.set_password(who, username, body.password,
                                            body.current_password)


@router.post("/users/{username}/grants", response_model=UserOut)
def grant(request: Request, who: Who, username: KeyPath, body: GrantIn) -> UserOut:
    """Grant a role on a unit (covering every unit below it)."""
    return UserOut.model_validate(services_of(request).users.grant(
        who, username, body.unit, body.role, body.emergency))


@router.delete("/users/{username}/grants/{unit}/{role}", response_model=UserOut)
def revoke_grant(request: Request, who: Who, username: KeyPath, unit: KeyPath,
                 role: Annotated[Role, Path()]) -> UserOut:
    return UserOut.model_validate(services_of(request).users.revoke_grant(
        who, username, unit, role))
