"""The agent's configuration: one TOML file, typed sections, environment overrides.

A village box runs unattended for years, so a bad value must be refused at start with a
message that names the key and says what is wrong, never discovered as a traceback an
hour later. Every setting is declared once, on a frozen dataclass field, with its type,
default and bounds; the loader checks types, ranges and unknown keys (a misspelt key is
an error, not a silently ignored line), then applies ``LOAXA_AGENT__SECTION__KEY``
environment overrides with the same checks.

The production minimums keep a misconfigured agent from flooding a 4G link (heartbeat
>= 5 s, journal extension >= 30 s). Tests need faster clocks: ``[testing]
short_intervals = true`` lowers those minimums, and nothing else.

Example (``loaxa agent enroll`` writes this file)::

    [agent]
    id = "ag-0001"
    commune = "xa-tan-lap"
    data_dir = "/var/lib/loaxa-agent"

    [broker]
    host = "station.example"
    port = 8883
    password_file = "broker.password"   # relative paths are inside data_dir
    ca_file = "ca.pem"

    [data_plane]
    endpoint = "tcp://station.example:7710"
    server_key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    clock_endpoint = "tcp://station.example:7711"   # used with [clock] source = "exchange"
"""

from __future__ import annotations

import math
import os
import shlex
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

from protocols.topics import ID_PATTERN, is_valid_id

ENV_PREFIX = "LOAXA_AGENT__"


class ConfigError(ValueError):
    """A configuration value that cannot be used. ``key`` is ``section.name``."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


def setting(default: Any = MISSING, *, lo: float | None = None, hi: float | None = None,
            test_lo: float | None = None, choices: tuple[str, ...] | None = None,
            ident: bool = False, secret: bool = False) -> Any:
    """A declared setting. ``test_lo`` is the minimum under ``testing.short_intervals``."""
    meta = {"lo": lo, "hi": hi, "test_lo": test_lo, "choices": choices, "ident": ident}
    return field(default=default, metadata=meta, repr=not secret)


@dataclass(frozen=True)
class AgentSection:
    id: str = setting(ident=True)
    commune: str = setting(ident=True)
    # setting() returns a dataclasses.field(); ruff cannot tell Path is immutable.
    data_dir: Path = setting(Path("/var/lib/loaxa-agent"))  # noqa: RUF009
    village: str | None = setting(None, ident=True)
    cluster: str | None = setting(None, ident=True)


@dataclass(frozen=True)
class BrokerSection:
    host: str = setting()
    port: int = setting(8883, lo=1, hi=65535)
    username: str | None = setting(None, ident=True)  # default: the agent id
    password: str | None = setting(None, secret=True)
    password_file: Path | None = setting(None)  # noqa: RUF009
    ca_file: Path = setting(Path("ca.pem"))  # noqa: RUF009
    # Idle keepalive pings cost ~48 bytes each way on 4G; the broker notices a dead
    # link after 1.5x this, and the agent after at most 2x.
    keepalive_s: int = setting(120, lo=10, hi=900, test_lo=1)
    # Broker keeps subscriptions and queued acks/commands across outages this long.
    session_expiry_s: int = setting(86_400, lo=60, hi=30 * 86_400, test_lo=1)
    # The Last Will waits this long, so a short 4G hiccup does not flap the agent offline.
    will_delay_s: int = setting(90, lo=0, hi=3600)
    connect_timeout_s: float = setting(15.0, lo=1, hi=120, test_lo=0.2)
    reconnect_min_s: float = setting(1.0, lo=0.5, hi=600, test_lo=0.05)
    reconnect_max_s: float = setting(120.0, lo=1, hi=3600, test_lo=0.1)
    topic_alias: bool = setting(True)


@dataclass(frozen=True)
class DataPlaneSection:
    endpoint: str | None = setting(None)
    server_key: str | None = setting(None)  # Z85, 40 characters
    # The controller's time service, for ``clock.source = "exchange"`` (same server key).
    clock_endpoint: str | None = setting(None)


@dataclass(frozen=True)
class HeartbeatSection:
    interval_s: float = setting(60.0, lo=5, hi=3600, test_lo=0.2)
    # Full telemetry is retained and sent on change, but never more often than this.
    telemetry_min_s: float = setting(60.0, lo=5, hi=86_400, test_lo=0.2)


@dataclass(frozen=True)
class JournalSection:
    extend_s: float = setting(300.0, lo=30, hi=3600, test_lo=0.1)
    max_records: int = setting(200_000, lo=1000, hi=10_000_000, test_lo=10)
    max_mb: int = setting(64, lo=1, hi=100_000)
    # Store and forward: batches of at most this many records / KiB, a window of
    # unacknowledged batches in flight, a retry timeout that backs off while no ack comes.
    batch_records: int = setting(200, lo=1, hi=2000)
    batch_kb: int = setting(32, lo=1, hi=256)
    window: int = setting(2, lo=1, hi=16)
    ack_timeout_s: float = setting(30.0, lo=5, hi=600, test_lo=0.2)
    ack_timeout_max_s: float = setting(600.0, lo=5, hi=3600, test_lo=0.2)
    # A backlog of nothing but interval extensions waits this long before it is sent
    # (4G bytes); any other record is sent at once.
    linger_s: float = setting(600.0, lo=0, hi=3600)


@dataclass(frozen=True)
class ClockSection:
    # "system": the kernel clock, which chrony disciplines (the production default);
    # "exchange": estimate the controller's clock over the data plane
    # (``data_plane.clock_endpoint``) where chrony cannot reach an NTP server.
    source: str = setting("system", choices=("system", "exchange"))
    # source = "system": where time quality comes from (the kernel's NTP state, or
    # "always"/"never" trusted). Ignored with "exchange", whose estimate decides.
    trust: str = setting("kernel", choices=("kernel", "always", "never"))
    step_threshold_ms: int = setting(1000, lo=50, hi=3_600_000)
    # source = "exchange": a burst of exchanges every ``burst_s`` at start, then one every
    # ``poll_min_s``, doubling up to ``poll_max_s`` while the estimate holds (4G bytes).
    burst_s: float = setting(1.0, lo=0.25, hi=10, test_lo=0.02)
    poll_min_s: float = setting(16.0, lo=4, hi=1024, test_lo=0.05)
    poll_max_s: float = setting(256.0, lo=4, hi=4096, test_lo=0.05)


@dataclass(frozen=True)
class WatchdogSection:
    # The network loop must have turned within this long for WATCHDOG=1 to be sent.
    stall_s: float = setting(60.0, lo=5, hi=3600, test_lo=0.5)


@dataclass(frozen=True)
class CommandsSection:
    reboot: tuple[str, ...] = setting(("/usr/bin/systemctl", "reboot"))


@dataclass(frozen=True)
class AudioSection:
    # "alsa" on a real box; "null" where there is no sound card (commissioning); "fake"
    # is the clocked test sink (the demo and tests use it, no sound card needed).
    sink: str = setting("alsa", choices=("alsa", "null", "fake"))
    device: str | None = setting(None)  # PortAudio device, e.g. "hw:0,0"; None: default
    volume: int = setting(80, lo=0, hi=100)
    emergency_volume: int = setting(100, lo=0, hi=100)
    grace_s: float = setting(30.0, lo=0, hi=3600)  # a late unshared slot restarts within it
    # sink = "fake" only, for end-to-end tests: keep everything the stand-in card
    # presented (in memory: ~350 MB per hour aired) and write it into this directory
    # after every play record and at stop, as the audio truth of the test.
    record_dir: Path | None = setting(None)  # noqa: RUF009


@dataclass(frozen=True)
class AmplifierSection:
    driver: str = setting("none", choices=("none", "gpiod", "gpiozero", "fake"))
    chip: str = setting("gpiochip0")  # gpiod
    line: int = setting(17, lo=0, hi=1023)  # gpiod line, or the BCM pin for gpiozero
    active_high: bool = setting(True)
    lead_ms: int = setting(2000, lo=0, hi=60_000)  # switched on this long before a slot
    tail_ms: int = setting(3000, lo=0, hi=600_000)  # and off this long after


@dataclass(frozen=True)
class CacheSection:
    quota_mb: int = setting(1024, lo=16, hi=1_000_000)
    min_free_mb: int = setting(64, lo=0, hi=100_000)


@dataclass(frozen=True)
class TestingSection:
    short_intervals: bool = setting(False)


SECTIONS: dict[str, type[Any]] = {
    "agent": AgentSection, "broker": BrokerSection, "data_plane": DataPlaneSection,
    "heartbeat": HeartbeatSection, "journal": JournalSection, "clock": ClockSection,
    "watchdog": WatchdogSection, "commands": CommandsSection, "audio": AudioSection,
    "amplifier": AmplifierSection, "cache": CacheSection, "testing": TestingSection,
}


@dataclass(frozen=True)
class AgentSettings:
    agent: AgentSection
    broker: BrokerSection
    data_plane: DataPlaneSection
    heartbeat: HeartbeatSection
    journal: JournalSection
    clock: ClockSection
    watchdog: WatchdogSection
    commands: CommandsSection
    audio: AudioSection
    amplifier: AmplifierSection
    cache: CacheSection
    testing: TestingSection
    source: Path | None = None

    @property
    def data_dir(self) -> Path:
        return self.agent.data_dir

    @property
    def username(self) -> str:
        return self.broker.username or self.agent.id

    def path(self, value: Path) -> Path:
        """A configured path, relative ones taken inside the data directory."""
        return value if value.is_absolute() else self.data_dir / value

    def broker_password(self) -> str:
        """The broker password, from the file when one is configured."""
        if self.broker.password_file is not None:
            path = self.path(self.broker.password_file)
            try:
                text = path.read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError("broker.password_file", f"cannot read {path}: {exc}") from exc
            if not text:
                raise ConfigError("broker.password_file", f"{path} is empty")
            return text
        if self.broker.password:
            return self.broker.password
        raise ConfigError("broker.password", "set broker.password or broker.password_file")

    def ca_pem(self) -> bytes:
        path = self.path(self.broker.ca_file)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigError("broker.ca_file", f"cannot read {path}: {exc}") from exc
        if b"-----BEGIN CERTIFICATE-----" not in pem:
            raise ConfigError("broker.ca_file", f"{path} is not a PEM certificate")
        return pem


def load(path: Path, environ: Mapping[str, str] | None = None) -> AgentSettings:
    """Read, override from the environment, and check a config file."""
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except FileNotFoundError as exc:
        raise ConfigError("file", f"{path} does not exist") from exc
    except OSError as exc:
        raise ConfigError("file", f"cannot read {path}: {exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError("file", f"{path} is not valid TOML: {exc}") from exc
    return from_mapping(raw, environ, source=path)


def from_mapping(raw: Mapping[str, Any], environ: Mapping[str, str] | None = None,
                 source: Path | None = None) -> AgentSettings:
    """Build settings from parsed TOML plus environment overrides."""
    values: dict[str, dict[str, Any]] = {name: {} for name in SECTIONS}
    for section, body in raw.items():
        if section not in SECTIONS:
            raise ConfigError(str(section), f"unknown section (known: {', '.join(SECTIONS)})")
        if not isinstance(body, Mapping):
            raise ConfigError(section, "must be a table ([section])")
        for key, value in body.items():
            values[section][key] = ("file", value)
    env = os.environ if environ is None else environ
    for name, text in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        parts = name[len(ENV_PREFIX):].lower().split("__")
        if len(parts) != 2 or parts[0] not in SECTIONS:
            raise ConfigError(name, "environment override must be "
                                    f"{ENV_PREFIX}<SECTION>__<KEY> with a known section")
        values[parts[0]][parts[1]] = ("env", text)
    short = _peek_short_intervals(values["testing"])
    built = {name: _build(name, cls, values[name], short) for name, cls in SECTIONS.items()}
    settings = AgentSettings(**built, source=source)
    return _resolve_and_check(settings, source)


def _peek_short_intervals(testing: dict[str, Any]) -> bool:
    entry = testing.get("short_intervals")
    if entry is None:
        return False
    return bool(_convert("testing.short_intervals", bool, entry[1], entry[0] == "env"))


def _build(section: str, cls: type[Any], given: dict[str, tuple[str, Any]],
           short: bool) -> Any:
    hints = get_type_hints(cls)
    declared = {f.name: f for f in fields(cls)}
    for key in given:
        if key not in declared:
            raise ConfigError(f"{section}.{key}",
                              f"unknown setting (known: {', '.join(declared)})")
    kwargs: dict[str, Any] = {}
    for name, spec in declared.items():
        key = f"{section}.{name}"
        if name in given:
            origin, value = given[name]
            kwargs[name] = _check(key, hints[name], spec.metadata, value, origin == "env", short)
        elif spec.default is MISSING:
            raise ConfigError(key, "is required")
    return cls(**kwargs)


def _check(key: str, hint: Any, meta: Mapping[str, Any], value: Any, from_env: bool,
           short: bool) -> Any:
    converted = _convert(key, hint, value, from_env)
    if converted is None:
        return None
    if isinstance(converted, (int, float)) and not isinstance(converted, bool):
        lo = meta.get("test_lo") if short and meta.get("test_lo") is not None else meta.get("lo")
        hi = meta.get("hi")
        if lo is not None and converted < lo:
            hint_text = "" if short or meta.get("test_lo") is None else \
                " (lower values only with testing.short_intervals = true)"
            raise ConfigError(key, f"must be at least {lo:g}, got {converted:g}{hint_text}")
        if hi is not None and converted > hi:
            raise ConfigError(key, f"must be at most {hi:g}, got {converted:g}")
    choices = meta.get("choices")
    if choices and converted not in choices:
        raise ConfigError(key, f"must be one of {', '.join(choices)}, got {converted!r}")
    if meta.get("ident") and not is_valid_id(converted):
        raise ConfigError(key, f"{converted!r} is not a valid identifier ({ID_PATTERN})")
    return converted


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _convert(key: str, hint: Any, value: Any, from_env: bool) -> Any:
    """Coerce one value to the declared type, or say exactly why it cannot be."""
    args = getattr(hint, "__args__", ())
    if type(None) in args:  # ``X | None``
        if from_env and value == "":
            return None
        hint = next(a for a in args if a is not type(None))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if from_env and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ConfigError(key, f"must be true or false, got {value!r}")
    if hint is int:
        if from_env:
            try:
                return int(value.strip())
            except ValueError:
                raise ConfigError(key, f"must be a whole number, got {value!r}") from None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ConfigError(key, f"must be a whole number, got {value!r}")
    if hint is float:
        number: Any = value
        if from_env:
            try:
                number = float(value.strip())
            except ValueError:
                raise ConfigError(key, f"must be a number, got {value!r}") from None
        if isinstance(number, (int, float)) and not isinstance(number, bool) \
                and math.isfinite(number):
            return float(number)
        raise ConfigError(key, f"must be a number, got {value!r}")
    if hint is str:
        if isinstance(value, str) and value.strip():
            return value.strip()
        raise ConfigError(key, f"must be a non-empty string, got {value!r}")
    if hint is Path:
        if isinstance(value, str) and value.strip() and "\0" not in value:
            return Path(value.strip())
        raise ConfigError(key, f"must be a path, got {value!r}")
    if getattr(hint, "__origin__", None) is tuple:
        items = shlex.split(value) if from_env else value
        if isinstance(items, list) and items and all(isinstance(i, str) and i for i in items):
            return tuple(items)
        raise ConfigError(key, f"must be a non-empty list of strings, got {value!r}")
    raise ConfigError(key, f"unsupported setting type {hint!r}")  # pragma: no cover


def _resolve_and_check(settings: AgentSettings, source: Path | None) -> AgentSettings:
    """Cross-field rules and path resolution (relative data_dir: next to the file)."""
    agent = settings.agent
    if not agent.data_dir.is_absolute():
        base = source.parent if source is not None else Path.cwd()
        agent = AgentSection(agent.id, agent.commune, (base / agent.data_dir).resolve(),
                             agent.village, agent.cluster)
    broker = settings.broker
    if broker.password is None and broker.password_file is None:
        raise ConfigError("broker.password_file", "set broker.password_file (or broker.password)")
    if broker.reconnect_max_s < broker.reconnect_min_s:
        raise ConfigError("broker.reconnect_max_s", "must not be below broker.reconnect_min_s")
    if broker.connect_timeout_s >= settings.watchdog.stall_s:
        raise ConfigError("broker.connect_timeout_s",
                          "must be below watchdog.stall_s, or a slow connect trips the watchdog")
    journal = settings.journal
    if journal.ack_timeout_max_s < journal.ack_timeout_s:
        raise ConfigError("journal.ack_timeout_max_s", "must not be below journal.ack_timeout_s")
    plane = settings.data_plane
    if (plane.endpoint is None) != (plane.server_key is None):
        raise ConfigError("data_plane.server_key" if plane.endpoint else "data_plane.endpoint",
                          "data_plane.endpoint and data_plane.server_key go together")
    if plane.endpoint is not None and not plane.endpoint.startswith("tcp://"):
        raise ConfigError("data_plane.endpoint", f"must look like tcp://host:port, "
                                                 f"got {plane.endpoint!r}")
    if plane.server_key is not None:
        check_z85_key("data_plane.server_key", plane.server_key)
    if plane.clock_endpoint is not None and not plane.clock_endpoint.startswith("tcp://"):
        raise ConfigError("data_plane.clock_endpoint", f"must look like tcp://host:port, "
                                                       f"got {plane.clock_endpoint!r}")
    clock = settings.clock
    if clock.source == "exchange" and (plane.clock_endpoint is None or plane.server_key is None):
        raise ConfigError("data_plane.clock_endpoint",
                          "clock.source = exchange needs the controller's time service: set "
                          "data_plane.clock_endpoint (tcp://host:port, the controller's "
                          "dataplane.clock_port) and data_plane.server_key")
    if clock.poll_max_s < clock.poll_min_s:
        raise ConfigError("clock.poll_max_s", "must not be below clock.poll_min_s")
    return AgentSettings(agent, broker, plane, settings.heartbeat, journal, settings.clock,
                         settings.watchdog, settings.commands, settings.audio,
                         settings.amplifier, settings.cache, settings.testing, source)


_Z85 = ("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
        ".-:+=^!/*?&<>()[]{}@%$#")


def check_z85_key(key: str, text: str) -> bytes:
    """Decode a 40-character Z85 CURVE key to its 32 bytes (stdlib only, no pyzmq)."""
    if len(text) != 40 or any(c not in _Z85 for c in text):
        raise ConfigError(key, "must be a CURVE public key in Z85 (40 characters)")
    out = bytearray()
    for i in range(0, 40, 5):
        value = 0
        for char in text[i:i + 5]:
            value = value * 85 + _Z85.index(char)
        if value >= 2**32:
            raise ConfigError(key, "is not valid Z85")
        out += value.to_bytes(4, "big")
    return bytes(out)
