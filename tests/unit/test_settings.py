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
])
def test_every_bad_value_is_named(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(write(tmp_path, text))
    assert key in str(caught.value)


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
