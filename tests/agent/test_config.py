"""The agent's TOML configuration: defaults, overrides, and a clear error for every bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import ConfigError, check_z85_key, from_mapping, load

CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"  # the ZeroMQ documentation's example key

EXAMPLE = f"""
[agent]
id = "ag-0001"
commune = "xa-tan-lap"
data_dir = "data"

[broker]
host = "station.example"
password_file = "broker.password"

[data_plane]
endpoint = "tcp://station.example:7710"
server_key = '{KEY}'
"""


def minimal(**sections: dict[str, object]) -> dict[str, dict[str, object]]:
    base: dict[str, dict[str, object]] = {
        "agent": {"id": "ag-1", "commune": "xa-a", "data_dir": "/var/lib/loaxa-agent"},
        "broker": {"host": "h", "password": "pw"},
    }
    for name, values in sections.items():
        base.setdefault(name, {}).update(values)
    return base


def error(raw: dict[str, dict[str, object]], env: dict[str, str] | None = None) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        from_mapping(raw, env or {})
    return caught.value


def test_the_example_loads_with_sane_defaults(tmp_path: Path) -> None:
    (tmp_path / "agent.toml").write_text(EXAMPLE)
    settings = load(tmp_path / "agent.toml", environ={})
    assert settings.agent.id == "ag-0001" and settings.username == "ag-0001"
    assert settings.data_dir == (tmp_path / "data").resolve()  # relative to the file
    assert settings.heartbeat.interval_s == 60 and settings.journal.extend_s == 300
    assert settings.broker.will_delay_s == 90 and settings.broker.port == 8883
    assert settings.clock.trust == "kernel"
    assert settings.path(Path("ca.pem")) == settings.data_dir / "ca.pem"
    assert check_z85_key("k", KEY) and len(check_z85_key("k", KEY)) == 32


def test_secrets_are_read_from_files_and_kept_out_of_repr(tmp_path: Path) -> None:
    (tmp_path / "agent.toml").write_text(EXAMPLE)
    settings = load(tmp_path / "agent.toml", environ={})
    with pytest.raises(ConfigError) as caught:
        settings.broker_password()
    assert caught.value.key == "broker.password_file" and "cannot read" in caught.value.problem
    data = settings.data_dir
    data.mkdir()
    (data / "broker.password").write_text("s3cret\n")
    (data / "ca.pem").write_text(CA)
    assert settings.broker_password() == "s3cret"
    assert settings.ca_pem().startswith(b"-----BEGIN")
    inline = from_mapping(minimal(broker={"password": "hunter2"}), {})
    assert "hunter2" not in repr(inline)
    (data / "ca.pem").write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"broker\.ca_file: .* not a PEM"):
        settings.ca_pem()


def test_environment_overrides_use_the_same_checks() -> None:
    env = {"LOAXA_AGENT__BROKER__PORT": "1884", "LOAXA_AGENT__HEARTBEAT__INTERVAL_S": "30",
           "LOAXA_AGENT__BROKER__TOPIC_ALIAS": "no",
           "LOAXA_AGENT__COMMANDS__REBOOT": "/sbin/reboot --force", "OTHER": "x"}
    settings = from_mapping(minimal(), env)
    assert settings.broker.port == 1884 and settings.heartbeat.interval_s == 30.0
    assert settings.broker.topic_alias is False
    assert settings.commands.reboot == ("/sbin/reboot", "--force")
    bad = error(minimal(), {"LOAXA_AGENT__BROKER__PORT": "eighty"})
    assert bad.key == "broker.port" and "whole number" in bad.problem
    assert error(minimal(), {"LOAXA_AGENT__NOPE__X": "1"}).key == "LOAXA_AGENT__NOPE__X"
    assert error(minimal(), {"LOAXA_AGENT__BROKER__PROT": "1"}).key == "broker.prot"


@pytest.mark.parametrize(("raw", "key", "words"), [
    ({"brokr": {}}, "brokr", "unknown section"),
    ({"broker": {"hots": "x"}}, "broker.hots", "unknown setting"),
    ({"broker": {"port": "8883"}}, "broker.port", "whole number"),
    ({"broker": {"port": True}}, "broker.port", "whole number"),
    ({"broker": {"port": 70000}}, "broker.port", "at most 65535"),
    ({"broker": {"host": ""}}, "broker.host", "non-empty string"),
    ({"agent": {"id": "AG 1"}}, "agent.id", "not a valid identifier"),
    ({"agent": {"commune": "xa/#"}}, "agent.commune", "not a valid identifier"),
    ({"heartbeat": {"interval_s": 1}}, "heartbeat.interval_s", "testing.short_intervals"),
    ({"heartbeat": {"interval_s": float("nan")}}, "heartbeat.interval_s", "must be a number"),
    ({"journal": {"extend_s": 5}}, "journal.extend_s", "at least 30"),
    ({"journal": {"window": 0}}, "journal.window", "at least 1"),
    ({"clock": {"trust": "sometimes"}}, "clock.trust", "one of kernel, always, never"),
    ({"testing": {"short_intervals": "yes"}}, "testing.short_intervals", "true or false"),
    ({"commands": {"reboot": []}}, "commands.reboot", "non-empty list"),
    ({"data_plane": {"endpoint": "tcp://h:1"}}, "data_plane.server_key", "go together"),
    ({"data_plane": {"endpoint": "h:1", "server_key": KEY}}, "data_plane.endpoint",
     "tcp://host:port"),
    ({"data_plane": {"endpoint": "tcp://h:1", "server_key": "short"}},
     "data_plane.server_key", "Z85"),
    ({"broker": {"reconnect_min_s": 10, "reconnect_max_s": 5}}, "broker.reconnect_max_s",
     "reconnect_min_s"),
    ({"broker": {"connect_timeout_s": 60}, "watchdog": {"stall_s": 30}},
     "broker.connect_timeout_s", "watchdog"),
    ({"journal": {"ack_timeout_s": 60, "ack_timeout_max_s": 30}}, "journal.ack_timeout_max_s",
     "ack_timeout_s"),
    ({"agent": "not a table"}, "agent", "must be a table"),
    ({"clock": {"source": "gps"}}, "clock.source", "one of system, exchange"),
    ({"clock": {"source": "exchange"}}, "data_plane.clock_endpoint", "time service"),
    ({"clock": {"source": "exchange"}, "data_plane": {"endpoint": "tcp://h:1",
                                                      "server_key": KEY}},
     "data_plane.clock_endpoint", "time service"),
    ({"data_plane": {"endpoint": "tcp://h:1", "server_key": KEY, "clock_endpoint": "h:2"}},
     "data_plane.clock_endpoint", "tcp://host:port"),
    ({"clock": {"poll_min_s": 64, "poll_max_s": 32}}, "clock.poll_max_s", "poll_min_s"),
    ({"clock": {"poll_min_s": 1}}, "clock.poll_min_s", "testing.short_intervals"),
])
def test_every_bad_value_names_its_key_and_problem(raw: dict[str, dict[str, object]], key: str,
                                                   words: str) -> None:
    merged = minimal()
    for section, values in raw.items():
        if isinstance(values, dict):
            merged.setdefault(section, {}).update(values)
        else:
            merged[section] = values  # type: ignore[assignment]
    found = error(merged)
    assert found.key == key, found
    assert words in found.problem, found
    assert str(found).startswith(f"{key}: ")


def test_required_settings_and_credentials() -> None:
    assert error({"agent": {"id": "a", "commune": "b"}, "broker": {"password": "x"}}).key == \
        "broker.host"
    assert error({"broker": {"host": "h", "password": "x"}}).key == "agent.id"
    assert error(minimal(broker={"password": None})).key.startswith("broker.password")


def test_short_intervals_only_when_asked_for() -> None:
    """The positive control of the production minimums: the same values pass in tests."""
    fast = minimal(testing={"short_intervals": True},
                   heartbeat={"interval_s": 0.5}, journal={"extend_s": 0.5})
    settings = from_mapping(fast, {})
    assert settings.heartbeat.interval_s == 0.5 and settings.journal.extend_s == 0.5
    env = {"LOAXA_AGENT__TESTING__SHORT_INTERVALS": "true",
           "LOAXA_AGENT__JOURNAL__EXTEND_S": "0.2"}
    assert from_mapping(minimal(), env).journal.extend_s == 0.2
    assert error(minimal(testing={"short_intervals": True},
                         journal={"extend_s": 0.01})).key == "journal.extend_s"


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load(tmp_path / "missing.toml", environ={})
    (tmp_path / "bad.toml").write_text("[agent\nid = 1")
    with pytest.raises(ConfigError, match="not valid TOML") as caught:
        load(tmp_path / "bad.toml", environ={})
    assert caught.value.key == "file"


def test_the_clock_exchange_is_chosen_explicitly() -> None:
    """chrony (``system``) stays the default; ``exchange`` needs the time service's
    endpoint, which enrolment writes next to the content endpoint."""
    assert from_mapping(minimal(), {}).clock.source == "system"
    plane = {"endpoint": "tcp://h:7710", "server_key": KEY, "clock_endpoint": "tcp://h:7711"}
    settings = from_mapping(minimal(data_plane=plane, clock={"source": "exchange"}), {})
    assert settings.clock.source == "exchange"
    assert settings.data_plane.clock_endpoint == "tcp://h:7711"
    assert (settings.clock.burst_s, settings.clock.poll_min_s, settings.clock.poll_max_s) == \
        (1.0, 16.0, 256.0)
    env = {"LOAXA_AGENT__CLOCK__SOURCE": "exchange",
           "LOAXA_AGENT__DATA_PLANE__CLOCK_ENDPOINT": "tcp://h:7711"}
    assert from_mapping(minimal(data_plane={"endpoint": "tcp://h:7710", "server_key": KEY}),
                        env).clock.source == "exchange"
