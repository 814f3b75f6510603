"""The broker's private CA stays valid for a Pi whose clock is wrong by years.

A Pi without a real-time clock boots believing it is 1970 (or its last shutdown) until
chrony syncs; a certificate that is not yet or no longer valid by its clock would keep it
off the broker, and off its plan updates, exactly when it most needs them. So every
certificate ``controller.broker.pki`` issues must be valid from the epoch to the far
future, and a chain must verify at any date a Pi might believe.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from controller.broker.files import BrokerLayout, ListenerSettings, write_broker_files
from controller.broker.pki import CertificateAuthority

SERVER_NAME = "loaxa-broker"
BROKER_NAME = x509.DNSName(SERVER_NAME)
UTC = dt.UTC
# A Pi that booted with no clock, one whose last shutdown was decades ago, one far ahead.
WRONG_CLOCKS = [dt.datetime(1970, 1, 2, tzinfo=UTC), dt.datetime(1971, 6, 1, tzinfo=UTC),
                dt.datetime(2090, 1, 1, tzinfo=UTC)]
TODAY = dt.datetime(2026, 11, 18, tzinfo=UTC)


@pytest.fixture(scope="module")
def broker_dir(tmp_path_factory: pytest.TempPathFactory) -> BrokerLayout:
    """The TLS material exactly as the broker gets it: written by loaxa's generator."""
    layout = BrokerLayout(tmp_path_factory.mktemp("broker"))
    write_broker_files(layout, ListenerSettings(), [])
    return layout


def load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def verify(ca: x509.Certificate, leaf: x509.Certificate, at: dt.datetime,
           name: x509.DNSName | x509.IPAddress = BROKER_NAME) -> None:
    """Raises VerificationError unless ``leaf`` chains to ``ca`` and is valid ``at``."""
    verifier = PolicyBuilder().store(Store([ca])).time(at).build_server_verifier(name)
    verifier.verify(leaf, [])


def conventional_leaf(authority: CertificateAuthority) -> x509.Certificate:
    """A server certificate with a usual ten-year validity, signed by the same CA key:
    the negative control for the verifier's notion of time."""
    key = serialization.load_pem_private_key(authority.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    ca = x509.load_pem_x509_certificate(authority.cert_pem)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    return (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_NAME)]))
            .issuer_name(ca.subject).public_key(leaf_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=UTC))
            .not_valid_after(dt.datetime(2034, 1, 1, tzinfo=UTC))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(SERVER_NAME)]), False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()),
                           False)
            .sign(key, hashes.SHA256()))


def test_the_generator_writes_only_a_ca_and_a_server_certificate(
        broker_dir: BrokerLayout) -> None:
    """Agents log in with passwords (no client certificates): if that ever changes, the
    new certificates must join the validity checks below."""
    assert sorted(p.name for p in broker_dir.root.glob("*.crt")) == ["ca.crt", "server.crt"]


@pytest.mark.parametrize("name", ["ca.crt", "server.crt"])
def test_certificates_are_valid_from_the_epoch_to_the_far_future(
        broker_dir: BrokerLayout, name: str) -> None:
    cert = load(broker_dir.root / name)
    assert cert.not_valid_before_utc <= dt.datetime(1970, 1, 2, tzinfo=UTC)
    # 9999-12-31T23:59:59Z: RFC 5280's "no well-defined expiration date".
    assert cert.not_valid_after_utc.year == 9999


@pytest.mark.parametrize("at", [*WRONG_CLOCKS, TODAY], ids=lambda t: t.date().isoformat())
def test_the_chain_verifies_whatever_the_pi_believes_the_date_is(
        broker_dir: BrokerLayout, at: dt.datetime) -> None:
    ca, server = load(broker_dir.ca_cert), load(broker_dir.server_cert)
    verify(ca, server, at)
    verify(ca, server, at, x509.IPAddress(ipaddress.ip_address("127.0.0.1")))


@pytest.mark.parametrize("at", WRONG_CLOCKS, ids=lambda t: t.date().isoformat())
def test_openssl_agrees(broker_dir: BrokerLayout, at: dt.datetime) -> None:
    """An independent implementation (what Mosquitto and paho link against) agrees."""
    done = subprocess.run(
        ["openssl", "verify", "-attime", str(int(at.timestamp())), "-purpose", "sslserver",
         "-CAfile", str(broker_dir.ca_cert), str(broker_dir.server_cert)],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith(": OK")


def test_a_fresh_ca_issues_certificates_with_the_same_validity() -> None:
    """``CertificateAuthority`` directly, as the API's TLS and the regional broker use it."""
    authority = CertificateAuthority.create("test CA")
    issued = authority.issue_server("loaxa-api", ["localhost"], ["127.0.0.1"])
    ca = x509.load_pem_x509_certificate(authority.cert_pem)
    server = x509.load_pem_x509_certificate(issued.cert_pem)
    for cert in (ca, server):
        assert cert.not_valid_before_utc <= dt.datetime(1970, 1, 2, tzinfo=UTC)
        assert cert.not_valid_after_utc.year == 9999
    for at in WRONG_CLOCKS:
        verify(ca, server, at, x509.DNSName("localhost"))


# ------------------------------------------------------------------ negative controls


@pytest.mark.parametrize("at", WRONG_CLOCKS, ids=lambda t: t.date().isoformat())
def test_a_conventional_certificate_would_fail_on_a_wrong_clock(at: dt.datetime) -> None:
    """The verifier really checks time: a ten-year certificate from the same CA fails at
    the dates above and passes today."""
    authority = CertificateAuthority.create()
    ca = x509.load_pem_x509_certificate(authority.cert_pem)
    leaf = conventional_leaf(authority)
    verify(ca, leaf, TODAY)
    with pytest.raises(VerificationError):
        verify(ca, leaf, at)


def test_a_server_certificate_from_another_ca_does_not_verify(broker_dir: BrokerLayout) -> None:
    other = CertificateAuthority.create("someone else's CA")
    stranger = x509.load_pem_x509_certificate(other.issue_server(SERVER_NAME, [], []).cert_pem)
    with pytest.raises(VerificationError):
        verify(load(broker_dir.ca_cert), stranger, WRONG_CLOCKS[1])
    with pytest.raises(VerificationError):
        verify(load(broker_dir.ca_cert), load(broker_dir.server_cert), WRONG_CLOCKS[1],
               x509.DNSName("not-the-broker.example"))


def test_openssl_refuses_a_conventional_certificate_in_1971(tmp_path: Path) -> None:
    authority = CertificateAuthority.create()
    (tmp_path / "ca.crt").write_bytes(authority.cert_pem)
    (tmp_path / "leaf.crt").write_bytes(
        conventional_leaf(authority).public_bytes(serialization.Encoding.PEM))
    done = subprocess.run(
        ["openssl", "verify", "-attime", str(int(WRONG_CLOCKS[1].timestamp())),
         "-CAfile", str(tmp_path / "ca.crt"), str(tmp_path / "leaf.crt")],
        capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode != 0 and "not yet valid" in (done.stdout + done.stderr)
