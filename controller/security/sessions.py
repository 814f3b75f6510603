"""Authentication: login tokens (stored only as digests, with an expiry) and the mapping of
a Unix peer (the user behind a connection on the local API socket) to a loaxa user."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import secrets
from dataclasses import dataclass

from sqlmodel import Session, select

from controller.audit import record
from controller.events import EventBus
from controller.i18n import N_
from controller.registry.errors import Unauthenticated
from controller.registry.timebase import StationTime
from controller.registry.work import reading, unit_of_work
from controller.storage.database import Database
from controller.storage.tables.security import ApiToken, User

from .authz import Principal
from .passwords import hash_password, verify_password

log = logging.getLogger("loaxa.security")
TOKEN_PREFIX = "lx_"


@functools.cache
def _dummy_hash() -> str:
    """Verifying against this keeps a login for an unknown user as slow as a real one, so
    response times do not reveal which user names exist."""
    return hash_password("loaxa-no-such-user")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    token: str  # shown once; only its digest is stored
    username: str
    expires_at: dt.datetime


class AuthService:
    def __init__(self, db: Database, bus: EventBus, time: StationTime,
                 token_ttl: dt.timedelta = dt.timedelta(hours=12)) -> None:
        self.db = db
        self.bus = bus
        self.time = time
        self.token_ttl = token_ttl

    def login(self, username: str, password: str, source: str = "api") -> IssuedToken:
        with unit_of_work(self.db, self.bus, self.time) as work:
            user = work.session.exec(select(User).where(User.username == username)).first()
            if user is None:
                verify_password(password, _dummy_hash())
            if user is None or user.disabled or user.id is None \
                    or not verify_password(password, user.password_hash):
                log.warning("failed login for %r", username[:64])
                raise Unauthenticated(N_("Wrong user name or password."))
            token = TOKEN_PREFIX + secrets.token_urlsafe(32)
            expires = self.time.now() + self.token_ttl
            work.session.add(ApiToken(user_id=user.id, token_digest=token_digest(token),
                                      created_at=self.time.now(), expires_at=expires))
            record(work, self._principal(user, source), "auth.login", target=username)
            return IssuedToken(token, username, expires)

    def logout(self, token: str) -> None:
        with unit_of_work(self.db, self.bus, self.time) as work:
            row = work.session.exec(select(ApiToken).where(
                ApiToken.token_digest == token_digest(token))).first()
            if row is not None:
                row.revoked = True
                work.session.add(row)

    def principal_for_token(self, token: str, source: str = "api") -> Principal:
        with reading(self.db, self.time) as work:
            row = work.session.exec(select(ApiToken).where(
                ApiToken.token_digest == token_digest(token))).first()
            if row is None or row.revoked or row.expires_at <= self.time.now():
                raise Unauthenticated(N_("Your login has expired or is not valid: log in "
                                         "again."))
            return self._active(work.session, row.user_id, source)

    def principal_for_unix_user(self, unix_user: str, source: str = "api") -> Principal:
        with reading(self.db, self.time) as work:
            user = work.session.exec(select(User).where(User.unix_user == unix_user)).first()
            if user is None or user.id is None:
                raise Unauthenticated(N_("Unix user {name} is not a loaxa user (ask an "
                                         "administrator to map it)."), name=unix_user)
            return self._active(work.session, user.id, source)

    def _active(self, session: Session, user_id: int, source: str) -> Principal:
        user = session.get(User, user_id)
        if user is None or user.disabled:
            raise Unauthenticated(N_("This account is disabled."))
        return self._principal(user, source)

    @staticmethod
    def _principal(user: User, source: str) -> Principal:
        return Principal(user_id=user.id, username=user.username, language=user.language,
                         source=source)
