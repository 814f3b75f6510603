"""The commune's signing keys: list, rotate in two steps, retire an old key."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request

from ..auth import Who, services_of
from ..errors import ERROR_RESPONSES
from ..schemas import KeyOut, KeyringOut
from .params import CommunePath

router = APIRouter(tags=["signing"], responses=ERROR_RESPONSES)
KeyIdPath = Annotated[str, Path(pattern=r"^k[a-z2-7]{12}$")]


@router.get("/communes/{commune}/signing", response_model=KeyringOut)
def keyring(request: Request, who: Who, commune: CommunePath) -> KeyringOut:
    services = services_of(request)
    keys = services.keyring.keys(who, commune)
    _bundle, mark = services.keyring.trust_bundle(commune)
    return KeyringOut(commune=commune, epoch=mark.epoch, trust_version=mark.version,
                      keys=[KeyOut.model_validate(k) for k in keys])


@router.post("/communes/{commune}/signing/rotation", response_model=KeyOut)
def begin_rotation(request: Request, who: Who, commune: CommunePath) -> KeyOut:
    """Step 1: a new key joins the trust bundle (signed by the current key)."""
    return KeyOut.model_validate(services_of(request).keyring.begin_rotation(who, commune))


@router.post("/communes/{commune}/signing/rotation/complete", response_model=KeyOut)
def complete_rotation(request: Request, who: Who, commune: CommunePath) -> KeyOut:
    """Step 2: the new key signs from now on."""
    return KeyOut.model_validate(services_of(request).keyring.complete_rotation(who, commune))


@router.post("/communes/{commune}/signing/keys/{key_id}/retire", response_model=KeyOut)
def retire(request: Request, who: Who, commune: CommunePath, key_id: KeyIdPath) -> KeyOut:
    return KeyOut.model_validate(services_of(request).keyring.retire(who, commune, key_id))
