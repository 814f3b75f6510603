"""The signing keyring: one active key, the epoch, the trust bundle agents verify, the
two-step rotation, and counters that never repeat."""

from __future__ import annotations

import threading

import msgspec
import pytest

from controller.events import SigningKeysChanged
from controller.registry.errors import Conflict, Forbidden
from controller.signing.counters import Counters
from controller.signing.curve import ensure_curve_key
from controller.storage.tables.signing import KeyStatus
from protocols.codec import RejectionCounter
from protocols.envelope import Domain, open_envelope
from protocols.messages import DocVersion, TrustBundle
from protocols.topics import DocKind
from protocols.trust import TrustStore

from .kit import SYSTEM, Kit


def agent_store(kit: Kit) -> TrustStore:
    bundle, mark = kit.services.keyring.trust_bundle("xa-a")
    return TrustStore.from_bundle(bundle, mark)


def test_signer_output_verifies_against_the_trust_bundle(kit: Kit) -> None:
    store = agent_store(kit)
    sealed = kit.services.keyring.sealed_trust_bundle("xa-a")
    opened = open_envelope(store, Domain.DOCUMENT, sealed.topic, sealed.payload, "doc",
                           RejectionCounter())
    assert not hasattr(opened, "reason"), opened
    assert opened.epoch == 1  # type: ignore[union-attr]


def test_rotation_is_announced_by_the_old_key_then_switches(kit: Kit) -> None:
    keyring = kit.services.keyring
    old = keyring.signer("xa-a").identity.key_id
    store = agent_store(kit)
    new = keyring.begin_rotation(SYSTEM, "xa-a")
    with pytest.raises(Conflict):
        keyring.begin_rotation(SYSTEM, "xa-a")
    sealed = keyring.sealed_trust_bundle("xa-a")
    assert keyring.signer("xa-a").identity.key_id == old  # still signing with the old key
    opened = open_envelope(store, Domain.DOCUMENT, sealed.topic, sealed.payload, "doc",
                           RejectionCounter())
    assert not hasattr(opened, "reason"), opened
    announced = msgspec.msgpack.decode(opened.body, type=TrustBundle)  # type: ignore[union-attr]
    assert {k.key_id for k in announced.keys} == {old, new.key_id}
    store = store.with_bundle(announced, sealed.version)
    keyring.complete_rotation(SYSTEM, "xa-a")
    assert keyring.signer("xa-a").identity.key_id == new.key_id
    sealed = keyring.sealed_trust_bundle("xa-a")
    assert not hasattr(open_envelope(store, Domain.DOCUMENT, sealed.topic, sealed.payload,
                                     "doc", RejectionCounter()), "reason")
    keyring.retire(SYSTEM, "xa-a", old)
    statuses = {k.key_id: k.status for k in keyring.keys(SYSTEM, "xa-a")}
    assert statuses == {old: KeyStatus.REVOKED, new.key_id: KeyStatus.ACTIVE}
    versions = [e.trust_version for e in kit.events if isinstance(e, SigningKeysChanged)]
    assert versions == sorted(versions) and len(set(versions)) == 3


def test_only_admins_rotate(kit: Kit) -> None:
    with pytest.raises(Forbidden):
        kit.services.keyring.begin_rotation(kit.who("tech-a"), "xa-a")


def test_same_bundle_version_means_same_bundle(kit: Kit) -> None:
    assert kit.services.keyring.trust_bundle("xa-a") == kit.services.keyring.trust_bundle(
        "xa-a")


def test_epoch_bump_puts_every_position_above_the_old_ones(kit: Kit) -> None:
    counters = Counters(kit.db)
    before = counters.next_document_version("xa-a", DocKind.CONFIG, "ag-1")
    kit.services.keyring.bump_epoch(SYSTEM)
    after = counters.next_document_version("xa-a", DocKind.CONFIG, "ag-1")
    assert after > before and after.epoch == before.epoch + 1
    assert kit.services.keyring.signer("xa-a").epoch == 2
    _bundle, mark = kit.services.keyring.trust_bundle("xa-a")
    assert mark > DocVersion(1, 10**6)


def test_counters_never_repeat_across_threads(kit: Kit) -> None:
    counters = Counters(kit.db)
    seen: list[int] = []
    lock = threading.Lock()

    def take() -> None:
        for _ in range(10):
            _epoch, value = counters.next_command_counter("xa-a", "ag-1")
            with lock:
                seen.append(value)

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(seen) == list(range(1, 41))
    assert counters.next_command_counter("xa-b", "ag-1") == (1, 1)  # per commune


def test_curve_key_is_created_once_and_kept(kit: Kit) -> None:
    first = ensure_curve_key(kit.db, "xa-a")
    assert ensure_curve_key(kit.db, "xa-a") == first
    assert ensure_curve_key(kit.db, "xa-b") != first
    assert len(first.public_key) == len(first.secret_key) == 32
