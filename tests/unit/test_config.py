"""Configuration: embedded defaults, the file search order and one-line errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from vault.config import load_settings
from vault.errors import ConfigError


def test_embedded_defaults_need_no_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EVAULT_HOME", str(tmp_path))
    monkeypatch.delenv("EVAULT_CONFIG", raising=False)
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path / 'vault.db'}"
    assert settings.store_path == tmp_path / "store"
    assert settings.retention.routine_months == 12


def test_file_in_home_is_read_and_env_overrides_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EVAULT_HOME", str(tmp_path))
    (tmp_path / "vault.toml").write_text('station_id = "from-home"\n')
    monkeypatch.delenv("EVAULT_CONFIG", raising=False)
    assert load_settings().station_id == "from-home"
    other = tmp_path / "other.toml"
    other.write_text('station_id = "from-env"\n')
    monkeypatch.setenv("EVAULT_CONFIG", str(other))
    assert load_settings().station_id == "from-env"
    explicit = tmp_path / "explicit.toml"
    explicit.write_text('station_id = "explicit"\n')
    assert load_settings(explicit).station_id == "explicit"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[store]\nbackend = "local"\ncolour = "red"\n', "store.colour: unknown key"),
        ("[ingest]\nchunk_size = 10\n", "ingest.chunk_size: Input should be greater than"),
        ('timezone = "Mars/Olympus"\n', "timezone: Value error, unknown time zone"),
        ("[retention]\nroutine_months = 6\n", "retention.routine_months"),
        ("station_id = [\n", "not valid TOML"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "vault.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_example_config_is_valid_and_documents_every_key() -> None:
    """config/vault.example.toml must load, and every key in it carries a comment."""
    example = Path(__file__).resolve().parents[2] / "config" / "vault.example.toml"
    settings = load_settings(example)
    assert settings.timezone == "Asia/Shanghai"
    lines = example.read_text().splitlines()
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith(("#", "[")):
            assert lines[number - 1].strip().startswith("#"), f"undocumented key: {stripped}"


def test_missing_explicit_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")
