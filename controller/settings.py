"""The controller's settings: one TOML file, typed, with environment overrides.

``LOAXA_<SECTION>__<KEY>`` overrides any value (e.g. ``LOAXA_DATABASE__URL``). Every
bad value is reported with its dotted key and the reason, in the operator's language.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from protocols.topics import ID_PATTERN

from .i18n import N_, _
from .library.settings import ProcessingSettings

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                      r"(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


class Problem(ValueError):
    """A bad value, described by a catalog message that is translated when reported;
    ``key`` names the setting when a check spans a whole section."""

    def __init__(self, message: str, *, key: str | None = None, **params: object) -> None:
        super().__init__(message.format(**params))
        self.message = message
        self.key = key
        self.params = params

    def translated(self) -> str:
        return _(self.message).format(**self.params)


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationSettings(Section):
    commune: Identifier = "xa-demo"
    name: str = "Xã"
    data_dir: Path = Path("/var/lib/loaxa")
    timezone: str = "Asia/Ho_Chi_Minh"
    language: Literal["vi", "en"] | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Problem(N_("unknown time zone")) from exc
        return value


class DatabaseSettings(Section):
    url: str = ""  # empty: SQLite in the data directory

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str) -> str:
        """SQLite or PostgreSQL through psycopg (3), the only drivers loaxa ships with; a
        bare ``postgresql://`` means psycopg here (SQLAlchemy would pick psycopg2)."""
        if not value:
            return value
        try:
            url = make_url(value)
        except ArgumentError:
            raise Problem(N_("not a database URL: use sqlite:////path/to/loaxa.db or "
                             "postgresql+psycopg://user@host/name")) from None
        backend, _plus, driver = url.drivername.partition("+")
        if backend == "sqlite" and driver in ("", "pysqlite"):
            if not url.database or url.database == ":memory:":
                raise Problem(N_("a SQLite URL needs a file: sqlite:////path/to/loaxa.db"))
            return value
        if backend == "postgresql" and driver in ("", "psycopg"):
            return url.set(drivername="postgresql+psycopg").render_as_string(
                hide_password=False) if not driver else value
        raise Problem(N_("unsupported database {name}: loaxa runs on SQLite (sqlite:///...) "
                         "or PostgreSQL (postgresql+psycopg://...)"), name=url.drivername)


class BrokerSettings(Section):
    mode: Literal["embedded", "external"] = "embedded"
    host: str = "127.0.0.1"  # where the controller connects
    port: int = Field(default=8883, ge=1, le=65535)
    bind: str = "127.0.0.1"  # embedded broker's listen address
    public_host: str = ""  # what agents dial; empty: ``host``
    public_port: int | None = Field(default=None, ge=1, le=65535)
    username: str = ""  # external broker: the controller's account
    password_file: Path | None = None
    ca_file: Path | None = None
    extra_hostnames: list[str] = []
    extra_addresses: list[str] = []
    max_queued_messages: int = Field(default=20_000, ge=1000)


class ApiSettings(Section):
    socket: Path | None = None  # empty: <data_dir>/api.sock
    tcp_bind: str = ""  # e.g. "0.0.0.0:8443"; needs tls_cert and tls_key
    tls_cert: Path | None = None
    tls_key: Path | None = None
    token_ttl_hours: int = Field(default=12, ge=1, le=24 * 30)

    @field_validator("tcp_bind")
    @classmethod
    def _host_port(cls, value: str) -> str:
        if value and not valid_bind(value):
            raise Problem(N_("must be host:port (e.g. 0.0.0.0:8443, [::]:8443)"))
        return value

    @model_validator(mode="after")
    def _tls_on_tcp(self) -> ApiSettings:
        """Over TCP, passwords and tokens cross the network: never in clear, not even on
        loopback (an SSH tunnel to the Unix socket needs no TCP listener at all)."""
        if self.tcp_bind and (self.tls_cert is None or self.tls_key is None):
            raise Problem(N_("the API on TCP needs api.tls_cert and api.tls_key (logins "
                             "and tokens must not cross the network in clear)"),
                          key="tcp_bind")
        return self


def valid_bind(bind: str) -> bool:
    """``host:port`` with a port in range; an IPv6 host in brackets."""
    host, colon, port = bind.rpartition(":")
    if not colon or not port.isdigit() or not 1 <= int(port) <= 65535:
        return False
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
        return True
    return HOSTNAME.match(host) is not None


class DataPlaneSettings(Section):
    bind_host: str = "0.0.0.0"
    content_port: int = Field(default=7710, ge=1, le=65535)
    clock_port: int = Field(default=7711, ge=1, le=65535)
    enrol_port: int = Field(default=7712, ge=1, le=65535)
    public_host: str = ""  # what agents dial; empty: the broker's public host
    egress_kbps: int = Field(default=2000, ge=8)
    max_transfers: int = Field(default=20, ge=1)


class EnrolmentSettings(Section):
    code_ttl_hours: int = Field(default=72, ge=1, le=24 * 30)
    max_failed_attempts: int = Field(default=5, ge=1)


class BackupSettings(Section):
    dir: Path | None = None  # empty: <data_dir>/backups
    interval_hours: int = Field(default=24, ge=0)  # 0 disables scheduled backups
    keep: int = Field(default=14, ge=1)


class LibrarySettings(ProcessingSettings):
    """``[library]``: the import pipeline's targets (every ``ProcessingSettings`` key) and
    what the station accepts from operators."""

    # Phones send bulletins as video; a ten-minute phone video is a few hundred MB. The
    # cap bounds the disk one upload can take before the pipeline has even looked at it.
    max_upload_mb: int = Field(default=500, ge=1, le=16_384)
    # ffmpeg takes a whole core; a station is a 2-core box that also serves agents, so
    # imports run one at a time unless the station has cores to spare.
    workers: int = Field(default=1, ge=1, le=8)
    # Uploaded files waiting for a worker (each is on disk): more is refused as busy.
    max_queued: int = Field(default=50, ge=1, le=1000)

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024


class AlertSettings(Section):
    """``[alerts]``: when the station raises an alert (``controller.alerts.rules``)."""

    enabled: bool = True
    interval_s: int = Field(default=60, ge=5, le=3600)
    offline_after_min: int = Field(default=30, ge=1, le=7 * 24 * 60)
    backlog_after_min: int = Field(default=60, ge=1, le=7 * 24 * 60)
    village_days: int = Field(default=7, ge=1, le=92)  # trailing window for "reached"
    missed_lookback_h: int = Field(default=48, ge=1, le=24 * 31)


class ForwardSettings(Section):
    """``[forward]``: a commune controller forwarding its records to the regional
    collector, through its broker's bridge (``controller.collector.forwarder``)."""

    enabled: bool = False
    batch_records: int = Field(default=2000, ge=10, le=20_000)
    batch_kb: int = Field(default=256, ge=16, le=3072)
    interval_s: float = Field(default=5.0, ge=0.05, le=3600)
    ack_timeout_s: float = Field(default=30.0, ge=0.5, le=3600)
    ack_timeout_max_s: float = Field(default=600.0, ge=1, le=86_400)
    slot_grace_min: int = Field(default=60, ge=0, le=24 * 60)
    # The bridge to the region (written into the commune broker's configuration).
    region_host: str = ""
    region_port: int = Field(default=8883, ge=1, le=65535)
    region_ca_file: Path | None = None
    bridge_username: str = ""  # empty: bridge-<commune>
    bridge_password_file: Path | None = None


class CollectorSettings(Section):
    """``[collector]``: ``loaxa collector run``, the regional collector (its database is
    ``[database] url``, PostgreSQL)."""

    broker_host: str = "127.0.0.1"
    broker_port: int = Field(default=8883, ge=1, le=65535)
    username: str = "collector"
    password_file: Path | None = None
    ca_file: Path | None = None
    client_id: Identifier = "loaxa-collector"
    definition: str = "loaxa-2024.1"
    communes: list[Identifier] = []  # empty: every commune the broker's ACL lets through


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOAXA_", env_nested_delimiter="__",
                                      extra="forbid", frozen=True)

    station: StationSettings = StationSettings()
    database: DatabaseSettings = DatabaseSettings()
    broker: BrokerSettings = BrokerSettings()
    api: ApiSettings = ApiSettings()
    dataplane: DataPlaneSettings = DataPlaneSettings()
    enrolment: EnrolmentSettings = EnrolmentSettings()
    backup: BackupSettings = BackupSettings()
    library: LibrarySettings = LibrarySettings()
    alerts: AlertSettings = AlertSettings()
    forward: ForwardSettings = ForwardSettings()
    collector: CollectorSettings = CollectorSettings()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings],
                                   init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource,
                                   ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Precedence: explicit arguments, then the environment, then the TOML file.
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    # Derived paths, so every component agrees on where things live.
    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.station.data_dir / 'loaxa.db'}"

    @property
    def api_socket(self) -> Path:
        return self.api.socket or self.station.data_dir / "api.sock"

    @property
    def backup_dir(self) -> Path:
        return self.backup.dir or self.station.data_dir / "backups"

    @property
    def signing_epochs_file(self) -> Path:
        """The highest signing epoch per commune, outside the database (restores)."""
        return self.station.data_dir / "signing-epochs.json"

    @property
    def broker_dir(self) -> Path:
        return self.station.data_dir / "broker"

    @property
    def content_dir(self) -> Path:
        """The library's content store (files named by their sha256)."""
        return self.station.data_dir / "content"

    @property
    def uploads_dir(self) -> Path:
        """Uploads being received or waiting for an import worker."""
        return self.station.data_dir / "uploads"


class SettingsError(Exception):
    """Settings that cannot be used; ``str()`` is a translated, operator-readable list."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read ``path`` (TOML) under environment overrides; raise ``SettingsError`` if bad."""
    if path is not None:
        try:
            with path.open("rb") as handle:
                tomllib.load(handle)
        except FileNotFoundError:
            raise SettingsError([_("Settings file not found: {path}").format(path=path)]) \
                from None
        except PermissionError:
            raise SettingsError([_("Cannot read settings file: {path}").format(path=path)]) \
                from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError([_("Settings file {path} is not valid TOML: {error}").format(
                path=path, error=exc)]) from None
    class FromFile(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

    try:
        return FromFile(**overrides)
    except ValidationError as exc:
        raise SettingsError([_describe(error) for error in exc.errors()]) from None


def _describe(error: Any) -> str:
    loc = [str(part) for part in error.get("loc", ())]
    if error.get("type") == "extra_forbidden":
        return _("{key}: unknown setting").format(key=".".join(loc) or "?")
    problem, value = error.get("msg", ""), error.get("input")
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, Problem):
        problem = cause.translated()
        if cause.key is not None:
            loc.append(cause.key)
            value = value.get(cause.key) if isinstance(value, dict) else getattr(
                value, cause.key, value)
    key = ".".join(loc) or "?"
    if key == "database.url" and isinstance(value, str):
        with contextlib.suppress(ArgumentError):  # a URL may carry a password: hide it
            value = make_url(value).render_as_string(hide_password=True)
    return _("{key}: {problem} (got {value!r})").format(key=key, problem=problem,
                                                        value=value)
