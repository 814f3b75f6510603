"""Users, passwords (scrypt), login tokens stored as digests with an expiry, Unix users."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlmodel import select

from controller.registry.errors import Conflict, Forbidden, Invalid, Unauthenticated
from controller.security.passwords import hash_password, verify_password
from controller.security.sessions import token_digest
from controller.storage.tables.security import ApiToken, User

from .kit import PASSWORD, SYSTEM, Kit


def test_password_hash_round_trip_and_format() -> None:
    stored = hash_password("s3cret-pass")
    assert stored.startswith("scrypt$") and "s3cret" not in stored
    assert verify_password("s3cret-pass", stored)
    assert not verify_password("s3cret-pasS", stored)
    assert not verify_password("x", "garbage") and not verify_password("x", None)


def test_login_stores_only_a_digest_and_expires(kit: Kit) -> None:
    issued = kit.services.auth.login("tech-a", PASSWORD)
    with kit.db.session() as session:
        digests = [t.token_digest for t in session.exec(select(ApiToken))]
    assert issued.token not in digests and token_digest(issued.token) in digests
    assert kit.services.auth.principal_for_token(issued.token).username == "tech-a"
    kit.clock.advance(int(dt.timedelta(hours=13).total_seconds() * 1e9))
    with pytest.raises(Unauthenticated):
        kit.services.auth.principal_for_token(issued.token)


def test_wrong_password_unknown_user_and_disabled_user_are_refused(kit: Kit) -> None:
    for username, password in (("tech-a", "wrong password"), ("nobody", PASSWORD)):
        with pytest.raises(Unauthenticated):
            kit.services.auth.login(username, password)
    token = kit.services.auth.login("tech-a", PASSWORD).token
    kit.services.users.update(SYSTEM, "tech-a", disabled=True)
    with pytest.raises(Unauthenticated):
        kit.services.auth.principal_for_token(token)
    with pytest.raises(Unauthenticated):
        kit.services.auth.principal_for_unix_user("unix-tech-a")


def test_logout_and_password_change_end_tokens(kit: Kit) -> None:
    auth = kit.services.auth
    first, second = auth.login("viewer-a", PASSWORD).token, auth.login("viewer-a",
                                                                         PASSWORD).token
    auth.logout(first)
    with pytest.raises(Unauthenticated):
        auth.principal_for_token(first)
    kit.services.users.set_password(kit.who("viewer-a"), "viewer-a", "new password 1",
                                    current_password=PASSWORD)
    with pytest.raises(Unauthenticated):
        auth.principal_for_token(second)
    assert auth.login("viewer-a", "new password 1").username == "viewer-a"


def test_own_password_change_needs_the_current_one(kit: Kit) -> None:
    with pytest.raises(Forbidden):
        kit.services.users.set_password(kit.who("viewer-a"), "viewer-a", "another one 2",
                                        current_password="not it")


def test_unix_user_mapping_is_unique_and_validated(kit: Kit) -> None:
    with pytest.raises(Conflict):
        kit.services.users.create(SYSTEM, "dup", unix_user="unix-tech-a")
    with pytest.raises(Invalid):
        kit.services.users.create(SYSTEM, "bad", unix_user="a:b")
    with pytest.raises(Unauthenticated):
        kit.services.auth.principal_for_unix_user("stranger")


def test_nobody_disables_their_own_account(kit: Kit) -> None:
    with pytest.raises(Conflict):
        kit.services.users.update(kit.who("admin"), "admin", disabled=True)


def test_user_actions_are_audited_without_secrets(kit: Kit) -> None:
    from controller.audit import AuditFilter

    kit.services.users.create(kit.who("admin"), "new-user", password="a password 123")
    entry = kit.services.audit.query(kit.who("admin"), AuditFilter(action="user.create",
                                                                  target="new-user"))
    assert entry.entries[0].username == "admin"
    assert "a password 123" not in str(entry.entries[0].detail)
    with kit.db.session() as session:
        user = session.exec(select(User).where(User.username == "new-user")).one()
    assert user.password_hash and "a password" not in user.password_hash
