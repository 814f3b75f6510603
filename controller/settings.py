"""The controller's settings: one TOML file, typed, with environment overrides.

``LOAXA_<SECTION>__<KEY>`` overrides any value (e.g. ``LOAXA_DATABASE__URL``). Every
bad value is reported with its dotted key and the reason, in the operator's language.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from protocols.topics import ID_PATTERN

from .i18n import _

Identifier = Annotated[str, Field(pattern=ID_PATTERN)]


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
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class DatabaseSettings(Section):
    url: str = ""  # empty: SQLite in the data directory


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
    def broker_dir(self) -> Path:
        return self.station.data_dir / "broker"


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
    key = ".".join(str(part) for part in error.get("loc", ())) or "?"
    if error.get("type") == "extra_forbidden":
        return _("{key}: unknown setting").format(key=key)
    return _("{key}: {problem} (got {value!r})").format(
        key=key, problem=error.get("msg", ""), value=error.get("input"))
