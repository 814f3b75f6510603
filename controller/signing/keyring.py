"""The controller's signing keys, its signing epoch and its trust bundle.

One key is ``active`` (it signs); ``trusted`` keys are still listed in the trust bundle
(the next key during a rotation, or the previous one just after); ``revoked`` keys are
listed as revoked, which agents remember forever. Rotation is two steps so no agent is
ever left behind: (1) a new key is added as trusted and the bundle naming both is
published, signed by the old key; (2) once agents have it, the new key becomes active
and the old one stays trusted until it is retired.

Every change bumps the trust bundle's version (a counter) and the bundle's content is a
pure function of the key table, so the same version always means the same bundle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlmodel import Session, col, select

from controller.audit import record
from controller.events import EventBus, SigningKeysChanged
from controller.i18n import N_
from controller.registry.errors import Conflict, NotFound
from controller.registry.timebase import StationTime
from controller.registry.work import Work, reading, unit_of_work
from controller.security.authz import Permission, Principal, Scope
from controller.storage.database import Database
from controller.storage.tables.registry import AdminUnit
from controller.storage.tables.signing import Counter, KeyStatus, SigningEpoch, SigningKey
from protocols.envelope import Domain, Signer
from protocols.keys import SigningIdentity
from protocols.messages import DocVersion, TrustBundle, TrustedKey
from protocols.topics import DocKind, document_topic

from .counters import commune_id_of, current_epoch, increment

TRUST_COUNTER = "doc/trust"


@dataclass(frozen=True)
class KeyView:
    key_id: str
    status: KeyStatus
    created_at: dt.datetime
    changed_at: dt.datetime | None


@dataclass(frozen=True)
class SealedDocument:
    topic: str
    payload: bytes  # the signed envelope, ready to publish retained
    version: DocVersion


class Keyring:
    def __init__(self, db: Database, bus: EventBus, time: StationTime) -> None:
        self.db = db
        self.bus = bus
        self.time = time

    # ------------------------------------------------------------------ for the fleet link

    def ensure(self, commune: str) -> None:
        """First start: an active key, epoch 1 and trust version 1 (idempotent)."""
        with self.db.transaction() as session:
            commune_id = commune_id_of(session, commune)
            if session.exec(select(SigningEpoch).where(
                    SigningEpoch.commune_id == commune_id)).first() is None:
                session.add(SigningEpoch(commune_id=commune_id, epoch=1,
                                         bumped_at=self.time.now()))
            if self._active(session, commune_id) is None:
                identity = SigningIdentity.generate()
                session.add(SigningKey(commune_id=commune_id, key_id=identity.key_id,
                                       public_key=identity.public_key, seed=identity.seed,
                                       status=KeyStatus.ACTIVE, created_at=self.time.now()))
                increment(session, commune_id, TRUST_COUNTER)

    def signer(self, commune: str) -> Signer:
        """A :class:`Signer` with the active key and the current epoch. Ask again after a
        :class:`~controller.events.SigningKeysChanged` event (or per batch of messages)."""
        with reading(self.db, self.time) as work:
            commune_id = commune_id_of(work.session, commune)
            key = self._active(work.session, commune_id)
            if key is None:
                raise NotFound(N_("Commune {commune} has no signing key yet."),
                               commune=commune)
            return Signer(SigningIdentity(key.seed), current_epoch(work.session, commune_id))

    def epoch(self, commune: str) -> int:
        with reading(self.db, self.time) as work:
            return current_epoch(work.session, commune_id_of(work.session, commune))

    def trust_bundle(self, commune: str) -> tuple[TrustBundle, DocVersion]:
        with reading(self.db, self.time) as work:
            return self._bundle(work.session, commune)

    def sealed_trust_bundle(self, commune: str) -> SealedDocument:
        """The commune-wide trust document, signed by the active key: what the fleet link
        publishes (retained) after every change."""
        bundle, version = self.trust_bundle(commune)
        topic = document_topic(commune, DocKind.TRUST)
        return SealedDocument(topic, self.signer(commune).seal(Domain.DOCUMENT, topic, bundle),
                              version)

    # ------------------------------------------------------------------ for operators

    def keys(self, who: Principal, commune: str) -> list[KeyView]:
        with reading(self.db, self.time) as work:
            commune_id = commune_id_of(work.session, commune)
            Scope(work.session, who, self.time.today()).require(Permission.READ, commune_id)
            return [self._view(k) for k in self._keys(work.session, commune_id)]

    def begin_rotation(self, who: Principal, commune: str) -> KeyView:
        """Step 1: add a new key as trusted (the bundle naming it is signed by the old)."""
        with unit_of_work(self.db, self.bus, self.time) as work:
            commune_id = self._manageable(work, who, commune)
            if self._pending(work.session, commune_id) is not None:
                raise Conflict(N_("A key rotation is already in progress: complete it "
                                  "first."))
            identity = SigningIdentity.generate()
            key = SigningKey(commune_id=commune_id, key_id=identity.key_id,
                             public_key=identity.public_key, seed=identity.seed,
                             status=KeyStatus.TRUSTED, created_at=self.time.now(),
                             changed_at=self.time.now())
            work.session.add(key)
            self._changed(work, who, commune, commune_id, "keys.rotate", key.key_id)
            return self._view(key)

    def complete_rotation(self, who: Principal, commune: str) -> KeyView:
        """Step 2: the new key signs from now on; the old one stays trusted."""
        with unit_of_work(self.db, self.bus, self.time) as work:
            commune_id = self._manageable(work, who, commune)
            pending = self._pending(work.session, commune_id)
            if pending is None:
                raise Conflict(N_("No key rotation is in progress."))
            active = self._active(work.session, commune_id)
            if active is not None:
                active.status, active.changed_at = KeyStatus.TRUSTED, self.time.now()
                work.session.add(active)
            pending.status, pending.changed_at = KeyStatus.ACTIVE, self.time.now()
            work.session.add(pending)
            work.session.flush()
            self._changed(work, who, commune, commune_id, "keys.activate", pending.key_id)
            return self._view(pending)

    def retire(self, who: Principal, commune: str, key_id: str) -> KeyView:
        """Revoke a key that no longer signs; agents will refuse it from then on."""
        with unit_of_work(self.db, self.bus, self.time) as work:
            commune_id = self._manageable(work, who, commune)
            key = work.session.exec(select(SigningKey).where(
                SigningKey.commune_id == commune_id, SigningKey.key_id == key_id)).first()
            if key is None:
                raise NotFound(N_("No signing key {key}."), key=key_id)
            if key.status is KeyStatus.ACTIVE:
                raise Conflict(N_("The active key cannot be retired: rotate first."))
            key.status, key.changed_at = KeyStatus.REVOKED, self.time.now()
            work.session.add(key)
            self._changed(work, who, commune, commune_id, "keys.retire", key_id)
            return self._view(key)

    # ------------------------------------------------------------------ restore

    def bump_epoch(self, who: Principal, commune: str | None = None,
                   above: Mapping[str, int] | None = None) -> dict[str, int]:
        """Raise the signing epoch (of one commune, or of every commune with keys), so a
        controller restored from a backup signs above everything agents have seen; also
        above ``above[commune]``, epochs known to be used outside this database."""
        with unit_of_work(self.db, self.bus, self.time) as work:
            statement = select(SigningEpoch)
            if commune is not None:
                statement = statement.where(
                    SigningEpoch.commune_id == commune_id_of(work.session, commune))
            bumped: dict[str, int] = {}
            for row in work.session.exec(statement):
                key = self._commune_key(work.session, row.commune_id)
                row.epoch = max(row.epoch, (above or {}).get(key, 0)) + 1
                row.bumped_at = self.time.now()
                work.session.add(row)
                bumped[key] = row.epoch
                record(work, who, "keys.bump_epoch", target=key, commune_id=row.commune_id,
                       detail={"epoch": row.epoch})
            return bumped

    # ------------------------------------------------------------------ helpers

    def _manageable(self, work: Work, who: Principal, commune: str) -> int:
        commune_id = commune_id_of(work.session, commune)
        Scope(work.session, who, self.time.today()).require(Permission.MANAGE_KEYS,
                                                            commune_id, hide=True)
        return commune_id

    def _changed(self, work: Work, who: Principal, commune: str, commune_id: int,
                 action: str, key_id: str) -> None:
        version = increment(work.session, commune_id, TRUST_COUNTER)
        record(work, who, action, target=key_id, commune_id=commune_id,
               detail={"trust_version": version})
        work.session.flush()
        active = self._active(work.session, commune_id)
        work.events.append(SigningKeysChanged(
            commune_id=commune_id, commune=commune, trust_version=version,
            active_key_id=active.key_id if active else ""))

    @staticmethod
    def _keys(session: Session, commune_id: int) -> list[SigningKey]:
        return list(session.exec(select(SigningKey).where(
            SigningKey.commune_id == commune_id).order_by(col(SigningKey.id))))

    def _active(self, session: Session, commune_id: int) -> SigningKey | None:
        return next((k for k in self._keys(session, commune_id)
                     if k.status is KeyStatus.ACTIVE), None)

    def _pending(self, session: Session, commune_id: int) -> SigningKey | None:
        """A trusted key newer than the active one: a rotation waiting for step 2."""
        keys = self._keys(session, commune_id)
        active = next((k for k in keys if k.status is KeyStatus.ACTIVE), None)
        newer = [k for k in keys if k.status is KeyStatus.TRUSTED
                 and (active is None or (k.id or 0) > (active.id or 0))]
        return newer[-1] if newer else None

    def _bundle(self, session: Session, commune: str) -> tuple[TrustBundle, DocVersion]:
        commune_id = commune_id_of(session, commune)
        keys = self._keys(session, commune_id)
        if not any(k.status is KeyStatus.ACTIVE for k in keys):
            raise NotFound(N_("Commune {commune} has no signing key yet."), commune=commune)
        listed = [k for k in keys if k.status is not KeyStatus.REVOKED]
        issued = max((k.changed_at or k.created_at) for k in keys)
        version = session.exec(select(Counter.value).where(
            Counter.commune_id == commune_id, Counter.name == TRUST_COUNTER)).first() or 1
        bundle = TrustBundle(
            version=version, issued_ns=int(issued.timestamp() * 1e9), commune=commune,
            keys=[TrustedKey(k.key_id, k.public_key) for k in listed][-16:],
            revoked=[k.key_id for k in keys if k.status is KeyStatus.REVOKED][-256:])
        return bundle, DocVersion(epoch=current_epoch(session, commune_id), version=version)

    @staticmethod
    def _commune_key(session: Session, commune_id: int) -> str:
        unit = session.get(AdminUnit, commune_id)
        return unit.key if unit else str(commune_id)

    @staticmethod
    def _view(key: SigningKey) -> KeyView:
        return KeyView(key_id=key.key_id, status=key.status, created_at=key.created_at,
                       changed_at=key.changed_at)
