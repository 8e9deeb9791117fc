"""Settings: the registry (name, default, help, parser) is the one source of truth."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from feedsvc.settings import SETTINGS, Setting, Settings, load_settings

FIELDS = {field.name: field for field in dataclasses.fields(Settings)}


def test_every_setting_is_a_settings_field_and_every_field_a_setting() -> None:
    names = [setting.name for setting in SETTINGS]
    assert len(names) == len(set(names))
    assert set(names) == set(FIELDS)


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_settings_default_is_the_registry_default(setting: Setting) -> None:
    assert FIELDS[setting.name].default == setting.default
    assert getattr(Settings(), setting.name) == setting.default


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda setting: setting.name)
def test_start_up_with_nothing_given_uses_the_registry_default(setting: Setting, tmp_path: Path) -> None:
    # content must exist to start; every other setting is left to its default
    settings = load_settings({"content": str(tmp_path)}, {})
    if setting.name != "content":
        assert getattr(settings, setting.name) == setting.default == getattr(Settings(), setting.name)
