"""The optional TOML config file: precedence flag > environment > file > default,
`feedsvc config` showing where each value came from, and bad values named
with their source (exit 2)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from feedsvc.settings import SETTINGS, ConfigError, load_settings, read_config, resolve, summary

from .conftest import REPO


def toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feedsvc.toml"
    path.write_text(text)
    return path


def test_precedence_is_flag_then_environment_then_file_then_default(tmp_path: Path):
    path = toml(tmp_path, 'port = 9001\nmax-age = 60\ntitle = "From the file"\n')
    given = {"config": str(path), "port": "9003"}
    resolved = resolve(given, {"FEEDSVC_PORT": "9002", "FEEDSVC_MAX_AGE": "30"})
    assert resolved["port"] == (9003, "--port")
    assert resolved["max_age"] == (30, "FEEDSVC_MAX_AGE")
    assert resolved["title"] == ("From the file", f"{path}: title")
    assert resolved["cache_mb"] == (64, "default")


def test_the_file_can_be_named_by_the_environment(tmp_path: Path):
    path = toml(tmp_path, "port = 9001\n")
    assert load_settings({}, {"FEEDSVC_CONFIG": str(path)}).port == 9001
    assert load_settings({"config": None}, {}).port == 8000


def test_every_setting_can_be_given_in_the_file_by_its_flag_name(tmp_path: Path):
    lines = [f'{setting.flag[2:]} = "x"' for setting in SETTINGS]
    names = read_config(toml(tmp_path, "\n".join(lines)))
    assert sorted(names) == sorted(setting.name for setting in SETTINGS)


def test_lists_and_numbers_are_taken_as_their_flags_take_them(tmp_path: Path):
    path = toml(
        tmp_path,
        'base-url = "https://feeds.example.com"\nwebsub-hub = ["https://a.example/", "https://b.example/"]\n'
        'allowed_hosts = ["feeds.example.com", ".example.org"]\ncache-mb = 8\n',
    )
    settings = load_settings({"config": str(path)}, {})
    assert settings.websub_hub == ("https://a.example/", "https://b.example/")
    assert settings.allowed_hosts == ("feeds.example.com", ".example.org")
    assert settings.cache_mb == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prot = 1\n", "prot: no such setting"),
        ('port = "x"\n', "port: must be a whole number"),
        ("port = 70000\n", "port: must be a port number"),
        ("port = true\n", "port: must be text or a number"),
        ("port = 1.5\n", "port: must be text, a whole number or a list"),
        ("max-age = 1\nmax_age = 2\n", "given twice"),
        ("port = [\n", "not a TOML file"),
        ("[server]\nport = 1\n", "server: no such setting"),
    ],
)
def test_a_bad_file_names_the_setting_and_the_file(tmp_path: Path, text: str, message: str):
    path = toml(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings({"config": str(path)}, {})
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_missing_file_is_an_error_not_defaults(tmp_path: Path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"config": str(tmp_path / "nope.toml")}, {})


def test_a_bad_value_is_an_error_even_where_another_source_overrides_it(tmp_path: Path):
    path = toml(tmp_path, 'port = "x"\n')
    with pytest.raises(ConfigError, match=f"{path}: port"):
        load_settings({"config": str(path)}, {"FEEDSVC_PORT": "9000"})
    with pytest.raises(ConfigError, match="FEEDSVC_PORT: must be a whole number"):
        load_settings({"port": "9000"}, {"FEEDSVC_PORT": "x"})


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feedsvc", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", **(env or {})},
        timeout=60,
        check=False,
    )


def test_feedsvc_config_prints_each_value_and_its_source_with_secrets_masked(tmp_path: Path):
    token = "a-secret-token-0123456789"
    path = toml(tmp_path, f'api-token = "{token}"\nmax-age = 60\n')
    done = run("config", "--config", str(path), "--title", "Mine", env={"FEEDSVC_PORT": "9002"})
    assert done.returncode == 0, done.stderr
    rows = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()}
    assert rows["port"] == ["9002", "FEEDSVC_PORT"]
    assert rows["title"] == ["Mine", "--title"]
    assert rows["max-age"] == ["60", f"{path}:", "max-age"]
    assert rows["cache-mb"] == ["64", "(default)"]
    assert rows["api-token"][:2] == ["********", "(set)"]
    assert token not in done.stdout + done.stderr
    assert len(rows) == len(SETTINGS)


@pytest.mark.parametrize("command", ["config", "serve"])
def test_a_bad_value_exits_2_naming_the_setting_and_its_source(tmp_path: Path, command: str):
    path = toml(tmp_path, "cache-mb = 0\n")
    done = run(command, "--config", str(path))
    assert done.returncode == 2
    assert f"{path}: cache-mb: must be 1 or more" in done.stderr


def test_build_reads_the_config_file(tmp_path: Path):
    path = toml(tmp_path, f'base-url = "https://feeds.example.com"\ncontent = "{REPO / "seeds"}"\nsnapshot = "off"\n')
    done = run("build", "--config", str(path), str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "https://feeds.example.com/feeds/all.rss" in (tmp_path / "out" / "feeds" / "all.rss").read_text()


def test_the_start_up_summary_says_what_changes_behaviour_and_never_the_token(tmp_path: Path):
    token = "a-secret-token-0123456789"
    plain = summary(load_settings({}, {}), None)
    assert "feed links use each request's scheme and Host; answering Host: localhost" in plain[0]
    assert "write API: off (no --api-token): read-only" in plain
    assert "start-up snapshot: off" in plain
    configured = load_settings(
        {"base_url": "https://feeds.example.com", "api_token": token, "websub_hub": "https://hub.example/"}, {}
    )
    lines = summary(configured, tmp_path / "x.snapshot")
    assert (
        lines[0]
        == "feed links use the base URL https://feeds.example.com; answering any Host (--allowed-hosts narrows it)"
    )
    assert "write API: on (a token is set)" in lines
    assert f"start-up snapshot: {tmp_path / 'x.snapshot'}" in lines
    assert "WebSub hubs: https://hub.example/" in lines
    assert token not in "\n".join(lines)
