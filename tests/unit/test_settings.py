"""Typed settings: TOML, nested sections, environment overrides, a clear error per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller import i18n
from controller.settings import SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "loaxa.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_and_derived_paths(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, f'[station]\ndata_dir = "{tmp_path}"\n'))
    assert settings.broker.mode == "embedded"
    assert settings.database_url == f"sqlite:///{tmp_path / 'loaxa.db'}"
    assert settings.api_socket == tmp_path / "api.sock"


def test_nested_values_and_environment_override(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, '[station]\ncommune = "xa-tan-lap"\n[broker]\nport = 9883\n')
    monkeypatch.setenv("LOAXA_BROKER__PORT", "18883")
    settings = load_settings(path)
    assert settings.station.commune == "xa-tan-lap"
    assert settings.broker.port == 18883


@pytest.mark.parametrize(("text", "key"), [
    ('[broker]\nport = 70000\n', "broker.port"),
    ('[broker]\nmode = "cloud"\n', "broker.mode"),
    ('[station]\ncommune = "Xã Tân Lập"\n', "station.commune"),
    ('[station]\ntimezone = "Mars/Olympus"\n', "station.timezone"),
    ('[station]\ncolour = "red"\n', "station.colour"),
    ('[nonsense]\nx = 1\n', "nonsense"),
    ('[api]\ntcp_bind = "nonsense"\n', "api.tcp_bind"),
    ('[api]\ntcp_bind = "0.0.0.0:99999"\n', "api.tcp_bind"),
    ('[api]\ntcp_bind = "::1:8443"\n', "api.tcp_bind"),  # IPv6 needs brackets
    ('[api]\ntcp_bind = "bad host:8443"\n', "api.tcp_bind"),
    ('[api]\ntcp_bind = "0.0.0.0:8443"\n', "api.tcp_bind"),  # no TLS: refused
    ('[api]\ntcp_bind = "127.0.0.1:8443"\ntls_cert = "/etc/loaxa/api.crt"\n',
     "api.tcp_bind"),  # loopback too, and half the TLS pair is not enough
    ('[database]\nurl = "garbage"\n', "database.url"),
    ('[database]\nurl = "mysql://loaxa@db/loaxa"\n', "database.url"),
    ('[database]\nurl = "postgresql+psycopg2://loaxa@db/loaxa"\n', "database.url"),
    ('[database]\nurl = "sqlite://"\n', "database.url"),
])
def test_every_bad_value_is_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, text))
    assert key in str(caught.value)


@pytest.mark.parametrize(("text", "expected"), [
    ('[api]\ntcp_bind = "0.0.0.0:8443"\ntls_cert = "/c"\ntls_key = "/k"\n', "0.0.0.0:8443"),
    ('[api]\ntcp_bind = "[::]:8443"\ntls_cert = "/c"\ntls_key = "/k"\n', "[::]:8443"),
    ('[api]\ntcp_bind = "station.example.vn:8443"\ntls_cert = "/c"\ntls_key = "/k"\n',
     "station.example.vn:8443"),
])
def test_good_tcp_binds_are_accepted(tmp_path: Path, text: str, expected: str) -> None:
    """The positive control of the refusals above: the same keys, well given."""
    assert load_settings(write(tmp_path, text)).api.tcp_bind == expected


@pytest.mark.parametrize(("url", "expected"), [
    ("sqlite:////var/lib/loaxa/loaxa.db", "sqlite:////var/lib/loaxa/loaxa.db"),
    ("postgresql+psycopg://loaxa@db/loaxa", "postgresql+psycopg://loaxa@db/loaxa"),
    # libpq's spelling: psycopg (3) is the driver loaxa ships, so that is what it means
    ("postgresql://loaxa:s%40cret@db:5433/loaxa",
     "postgresql+psycopg://loaxa:s%40cret@db:5433/loaxa"),
])
def test_supported_database_urls(tmp_path: Path, url: str, expected: str) -> None:
    settings = load_settings(write(tmp_path, f'[database]\nurl = "{url}"\n'))
    assert settings.database_url == expected


def test_a_refused_database_url_does_not_echo_its_password(tmp_path: Path) -> None:
    path = write(tmp_path, '[database]\nurl = "mysql://loaxa:hunter2@db/loaxa"\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert "database.url" in str(caught.value) and "mysql" in str(caught.value)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(("text", "vietnamese", "english"), [
    ('[api]\ntcp_bind = "nonsense"\n', "phải có dạng máy:cổng", "must be host:port"),
    ('[api]\ntcp_bind = "127.0.0.1:8443"\n', "cần api.tls_cert và api.tls_key",
     "needs api.tls_cert and api.tls_key"),
    ('[database]\nurl = "garbage"\n', "không phải địa chỉ cơ sở dữ liệu",
     "not a database URL"),
    ('[database]\nurl = "mysql://loaxa@db/loaxa"\n', "không hỗ trợ cơ sở dữ liệu mysql",
     "unsupported database mysql"),
    ('[station]\ntimezone = "Mars/Olympus"\n', "múi giờ không tồn tại", "unknown time zone"),
])
def test_value_checks_speak_the_operators_language(tmp_path: Path, text: str,
                                                   vietnamese: str, english: str) -> None:
    path = write(tmp_path, text)
    try:
        i18n.set_language("vi")
        with pytest.raises(SettingsError) as caught:
            load_settings(path)
        assert vietnamese in str(caught.value) and english not in str(caught.value)
        i18n.set_language("en")
        with pytest.raises(SettingsError, match=english):
            load_settings(path)
    finally:
        i18n.set_language(None)


def test_environment_overrides_are_checked_too(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAXA_API__TCP_BIND", "nonsense")
    with pytest.raises(SettingsError, match=r"api\.tcp_bind"):
        load_settings(write(tmp_path, ""))


def test_errors_are_vietnamese_by_default_and_english_on_request(tmp_path: Path) -> None:
    path = write(tmp_path, '[station]\ncolour = "red"\n')
    try:
        i18n.set_language("vi")
        with pytest.raises(SettingsError, match="mục cấu hình không tồn tại"):
            load_settings(path)
        i18n.set_language("en")
        with pytest.raises(SettingsError, match="unknown setting"):
            load_settings(path)
    finally:
        i18n.set_language(None)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"loaxa\.toml"):
        load_settings(tmp_path / "loaxa.toml")
    with pytest.raises(SettingsError, match="TOML"):
        load_settings(write(tmp_path, "[station\n"))
