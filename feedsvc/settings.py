"""Settings: one registry of name, default and help text, read from the
command line, then ``FEEDSVC_*`` environment variables, then an optional TOML
file (``--config``), then defaults.

Bad configuration stops start-up with a message naming the setting and where
its value came from.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feedsvc.text import xml_safe


class ConfigError(ValueError):
    """A setting has a value the service cannot start with."""


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str
    parse: Callable[[str], Any]

    @property
    def env(self) -> str:
        return f"FEEDSVC_{self.name.upper()}"

    @property
    def flag(self) -> str:
        return f"--{self.name.replace('_', '-')}"


def _port(value: str) -> int:
    port = _integer(value)
    if not 0 <= port <= 65535:
        raise ValueError("must be a port number from 0 to 65535")
    return port


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"must be a whole number, not {value!r}") from None


def _non_negative(value: str) -> int:
    number = _integer(value)
    if number < 0:
        raise ValueError("must be 0 or more")
    return number


def _positive(value: str) -> int:
    number = _integer(value)
    if number < 1:
        raise ValueError("must be 1 or more")
    return number


def _base_url(value: str) -> str | None:
    if not value:
        return None
    try:
        parts = urlsplit(value)
        valid_port = parts.port is None or parts.port > 0
    except ValueError:
        valid_port = False
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not valid_port
        or any(c in value for c in '?# \t\n\\"<>')
        or parts.username
    ):
        raise ValueError(
            f"must be an absolute http(s) URL without query or fragment, like https://feeds.example.com, not {value!r}"
        )
    return value.rstrip("/")


def _text(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if xml_safe(value) != value:
        raise ValueError("must not contain control characters")
    return value.strip()


def _language(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*", value):
        raise ValueError(f"must be a language tag such as en or en-GB, not {value!r}")
    return value


def _watch(value: str) -> str:
    mode = value.lower()
    if mode not in ("auto", "poll", "off"):
        raise ValueError("must be auto (OS file events), poll (for network and shared volumes) or off")
    return mode


def _token(value: str) -> str | None:
    if not value:
        return None
    if len(value) < 16:
        raise ValueError("must be at least 16 characters (use a long random string)")
    return value


def _hubs(value: str) -> tuple[str, ...]:
    hubs = tuple(part.strip() for part in value.split(",") if part.strip())
    for hub in hubs:
        parts = urlsplit(hub)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"every hub must be an absolute http(s) URL, not {hub!r}")
    return hubs


def _site_image(value: str) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c in value for c in ' \t\n\\"<>'):
        raise ValueError(f"must be an absolute http(s) URL, like https://example.com/cover.png, not {value[:100]!r}")
    if not value.endswith((".jpg", ".png")):
        # Apple's rule for podcast artwork (itunes:image), which podcast apps follow.
        raise ValueError(f"must be a JPEG or PNG whose URL ends in .jpg or .png, not {value[:100]!r}")
    return value


def _email(value: str) -> str | None:
    if not value:
        return None
    if not re.fullmatch(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?", value):
        raise ValueError(f"must be an e-mail address such as podcasts@example.com, not {value[:100]!r}")
    return value


# A host name or IP literal, as a Host header gives it (no port): www.example.com, 127.0.0.1, [::1].
_HOST_NAME = re.compile(r"\.?[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]+\]")


def _allowed_hosts(value: str) -> tuple[str, ...] | None:
    if not value.strip():
        return None
    hosts = tuple(part.strip().lower() for part in value.split(",") if part.strip())
    for host in hosts:
        if host != "*" and not _HOST_NAME.fullmatch(host):
            raise ValueError(
                f"every entry must be a host name without port (example.com), .example.com for it and its "
                f"subdomains, or * for any, not {host[:100]!r}"
            )
    return hosts


def _enclosure_probe(value: str) -> str:
    mode = value.lower()
    if mode not in ("public", "all", "off"):
        raise ValueError(
            "must be public (ask public addresses only), all (intranets and tests: any address) or off (ask nobody)"
        )
    return mode


def _log_level(value: str) -> str:
    level = value.lower()
    if level not in ("debug", "info", "warning", "error"):
        raise ValueError("must be one of debug, info, warning, error")
    return level


def _on_off(value: str) -> str:
    switch = value.lower()
    if switch not in ("on", "off"):
        raise ValueError(f"must be on or off, not {value[:40]!r}")
    return switch


def _log_format(value: str) -> str:
    fmt = value.lower()
    if fmt not in ("text", "json"):
        raise ValueError("must be text (one readable line per request) or json (one JSON object per line)")
    return fmt


def _metrics_port(value: str) -> int | None:
    if not value or value == "0":
        return None
    return _port(value)


SETTINGS: tuple[Setting, ...] = (
    Setting("content", Path("seeds"), "Folder of article files to publish.", Path),
    Setting("host", "127.0.0.1", "Address to listen on (0.0.0.0 for every interface).", _text),
    Setting("port", 8000, "Port to listen on.", _port),
    Setting(
        "base_url",
        None,
        "Public URL of the service (https://feeds.example.com), used for every absolute URL in feeds. "
        "Unset: the scheme and Host of each request.",
        _base_url,
    ),
    Setting(
        "allowed_hosts",
        None,
        "Host names the service answers to, comma-separated (.example.com: it and its subdomains; *: any). "
        "Unset: any when --base-url is set, else localhost, 127.0.0.1, [::1] and the --host address.",
        _allowed_hosts,
    ),
    Setting("max_age", 300, "Cache-Control max-age of feeds, in seconds.", _non_negative),
    Setting("cache_mb", 64, "Memory budget of the rendered-feed cache, in MiB.", _positive),
    Setting("title", "feedsvc", "Site title, shown in every feed's title and on the home page.", _text),
    Setting("language", "en", "Language of the feeds (an RFC 5646 tag such as en or en-GB).", _language),
    Setting("log_level", "info", "Logging level: debug, info, warning or error.", _log_level),
    Setting(
        "access_log",
        "on",
        "One line per request on standard output (method, path, status, bytes, duration, cache outcome, "
        "request id): on or off. Independent of --log-level.",
        _on_off,
    ),
    Setting(
        "log_format", "text", "Format of the access log: text (one readable line) or json (JSON lines).", _log_format
    ),
    Setting(
        "metrics_port",
        None,
        "Serve /metrics (Prometheus) on this port of --host only, and not on the main port. "
        "Unset: /metrics on the main port, to loopback clients only.",
        _metrics_port,
    ),
    Setting(
        "watch",
        "auto",
        "Watch the content folder and publish changes live: auto (OS file events), "
        "poll (for network and shared volumes) or off.",
        _watch,
    ),
    Setting(
        "api_token",
        None,
        "Bearer token for the write API (/api/articles). Unset: the API is off and the service is read-only.",
        _token,
    ),
    Setting(
        "snapshot",
        "auto",
        "Start-up snapshot of the parsed folder, for fast restarts: auto (in the user's cache folder), "
        "off, or a file path.",
        _text,
    ),
    Setting("api_max_bytes", 1048576, "Largest request body the write API accepts, in bytes.", _positive),
    Setting(
        "websub_hub",
        (),
        "WebSub hub URLs, comma-separated: feeds advertise them and the hubs are told when a feed changes. "
        "Needs --base-url.",
        _hubs,
    ),
    Setting(
        "enclosure_probe",
        "public",
        "Find each image's size and type for RSS enclosures by asking its server (HEAD, else a one-byte GET), "
        "in the background: public (never loopback, private, link-local or multicast addresses), "
        "all (any address: intranets and tests) or off.",
        _enclosure_probe,
    ),
    Setting(
        "site_image",
        None,
        "Cover art of the feeds that have no logo of their own (topics, all articles), for podcast apps: "
        "an absolute URL of a square JPEG or PNG (1400-3000 px), ending in .jpg or .png. "
        "Unset: the service's own /cover.png.",
        _site_image,
    ),
    Setting(
        "owner_email",
        None,
        "E-mail address podcast directories may contact the feeds' owner at (itunes:owner). "
        "Set, RSS feeds carry the iTunes podcast namespace; unset, none of it.",
        _email,
    ),
)


# The one place defaults are written is SETTINGS; Settings takes each of its
# defaults from there by name (as datasette's DEFAULT_SETTINGS does), so code
# that builds Settings() directly, tests included, gets what start-up gets.
DEFAULTS: dict[str, Any] = {setting.name: setting.default for setting in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    content: Path = DEFAULTS["content"]
    host: str = DEFAULTS["host"]
    port: int = DEFAULTS["port"]
    base_url: str | None = DEFAULTS["base_url"]
    allowed_hosts: tuple[str, ...] | None = DEFAULTS["allowed_hosts"]
    max_age: int = DEFAULTS["max_age"]
    cache_mb: int = DEFAULTS["cache_mb"]
    title: str = DEFAULTS["title"]
    language: str = DEFAULTS["language"]
    log_level: str = DEFAULTS["log_level"]
    access_log: str = DEFAULTS["access_log"]
    log_format: str = DEFAULTS["log_format"]
    metrics_port: int | None = DEFAULTS["metrics_port"]
    watch: str = DEFAULTS["watch"]
    api_token: str | None = DEFAULTS["api_token"]
    snapshot: str = DEFAULTS["snapshot"]
    api_max_bytes: int = DEFAULTS["api_max_bytes"]
    websub_hub: tuple[str, ...] = DEFAULTS["websub_hub"]
    enclosure_probe: str = DEFAULTS["enclosure_probe"]
    site_image: str | None = DEFAULTS["site_image"]
    owner_email: str | None = DEFAULTS["owner_email"]


CONFIG_ENV = "FEEDSVC_CONFIG"  # the config file, when --config is not given
SECRETS = frozenset({"api_token"})  # shown masked by `feedsvc config`
DEFAULT_ORIGIN = "default"


def config_path(given: Mapping[str, str | None], environ: Mapping[str, str]) -> Path | None:
    """The config file named by --config, else by FEEDSVC_CONFIG; None when neither names one."""
    named = given.get("config") or environ.get(CONFIG_ENV)
    return Path(named) if named else None


def read_config(path: Path) -> dict[str, tuple[str, str]]:
    """A TOML config file's values, as the command line would give them: by
    setting name, each with where it came from ("feedsvc.toml: base-url").

    Keys are the flags' names without the dashes (``base-url = "…"``; the
    underscore spelling is accepted too). Lists (``websub-hub = ["…", "…"]``)
    become the comma-separated text their flag takes.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--config / {CONFIG_ENV}: cannot read {str(path)!r}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a TOML file: {exc}") from None
    names = {s.flag[2:]: s.name for s in SETTINGS} | {s.name: s.name for s in SETTINGS}
    values: dict[str, tuple[str, str]] = {}
    keys: dict[str, str] = {}  # setting name -> the key that gave it
    for key, value in data.items():
        origin = f"{path}: {key}"
        name = names.get(key)
        if name is None:
            raise ConfigError(f"{origin}: no such setting (the keys are the flags' names, such as base-url)")
        if name in keys:
            raise ConfigError(f"{origin}: given twice (as {keys[name]} too)")
        keys[name] = key
        values[name] = (_as_flag_text(value, origin), origin)
    return values


def _as_flag_text(value: object, origin: str) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        raise ConfigError(f"{origin}: must be text or a number, not true/false")
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    raise ConfigError(f"{origin}: must be text, a whole number or a list of text")


def resolve(given: Mapping[str, str | None], environ: Mapping[str, str]) -> dict[str, tuple[Any, str]]:
    """Each setting's value and where it came from: the flag, else the
    environment, else the config file, else the default. Raises ConfigError
    naming the setting and the source of a bad value, wherever it is given."""
    path = config_path(given, environ)
    from_file = read_config(path) if path is not None else {}
    resolved: dict[str, tuple[Any, str]] = {}
    for setting in SETTINGS:
        sources = [(given.get(setting.name), setting.flag), (environ.get(setting.env), setting.env)]
        sources.append(from_file.get(setting.name, (None, "")))
        parsed = []
        for raw, origin in sources:
            if raw is None:
                continue
            try:  # every value given is checked, also one that another overrides
                parsed.append((setting.parse(raw), origin))
            except ValueError as exc:
                raise ConfigError(f"{origin}: {exc}") from None
        resolved[setting.name] = parsed[0] if parsed else (setting.default, DEFAULT_ORIGIN)
    return resolved


def load_settings(given: Mapping[str, str | None], environ: Mapping[str, str]) -> Settings:
    """Given command-line values (None when not given; ``config`` names a
    config file) and the environment, return validated settings, or raise
    ConfigError naming the setting and the source of its value."""
    values = {name: value for name, (value, _origin) in resolve(given, environ).items()}
    settings = Settings(**values)
    check_content(settings.content)
    if settings.websub_hub and not settings.base_url:
        raise ConfigError("FEEDSVC_WEBSUB_HUB / --websub-hub: needs --base-url, the public URL hubs fetch feeds from")
    return settings


def summary(settings: Settings, snapshot_path: Path | None) -> list[str]:
    """What a start-up log should say about the settings that change what the
    service does, one line each (the API token itself never appears)."""
    if settings.allowed_hosts:
        hosts = f"Host: {', '.join(settings.allowed_hosts)}"
    elif settings.base_url:
        hosts = "any Host (--allowed-hosts narrows it)"
    else:
        hosts = f"Host: localhost, 127.0.0.1, [::1], {settings.host} (--allowed-hosts widens it)"
    origin = f"the base URL {settings.base_url}" if settings.base_url else "each request's scheme and Host"
    links = f"feed links use {origin}; answering {hosts}"
    return [
        links,
        "write API: on (a token is set)" if settings.api_token else "write API: off (no --api-token): read-only",
        f"watching the content folder: {settings.watch}",
        f"start-up snapshot: {snapshot_path}" if snapshot_path else "start-up snapshot: off",
        f"WebSub hubs: {', '.join(settings.websub_hub)}" if settings.websub_hub else "WebSub hubs: none",
        f"enclosure probe: {settings.enclosure_probe}",
        f"podcast namespace: {'on (--owner-email)' if settings.owner_email else 'off (no --owner-email)'}",
        f"access log: {f'on ({settings.log_format}, standard output)' if settings.access_log == 'on' else 'off'}",
        f"metrics: port {settings.metrics_port} only"
        if settings.metrics_port
        else "metrics: /metrics on the main port, loopback clients only",
    ]


def check_content(content: Path) -> None:
    """Fail start-up early when the content folder is not usable."""
    if not content.is_dir():
        raise ConfigError(f"--content / FEEDSVC_CONTENT: {str(content)!r} is not a folder")
