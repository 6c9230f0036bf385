"""Reading ``veille.toml``.

The shipped ``default_config.toml`` is both the template written by
``veille init`` and the defaults: a workspace file only needs the settings it
changes. Secrets are read from the environment variables the file names.
"""

from __future__ import annotations

import copy
import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import ConfigError

CONFIG_NAME = "veille.toml"


def default_config_text() -> str:
    return resources.files("storage").joinpath("default_config.toml").read_text("utf-8")


def _merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


class Config:
    """Settings of one workspace, addressed as ``"section.key"``."""

    def __init__(self, data: dict[str, Any] | None = None, path: Path | None = None):
        defaults = tomllib.loads(default_config_text())
        self.data = _merge(defaults, data or {})
        self.path = path

    @classmethod
    def load(cls, path: Path) -> Config:
        try:
            raw = path.read_bytes()
        except FileNotFoundError as exc:
            raise ConfigError(f"no configuration file at {path}") from exc
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from exc
        return cls(data, path)

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def section(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        return dict(value) if isinstance(value, dict) else {}

    def require(self, dotted: str) -> Any:
        """A setting that must be non-empty; ConfigError names it otherwise."""
        value = self.get(dotted)
        if value in (None, "", []):
            where = self.path or CONFIG_NAME
            raise ConfigError(f"setting '{dotted}' is not set in {where}")
        return value

    def secret(self, env_setting: str) -> str:
        """The value of the env var named by setting ``env_setting``.

        The value is returned, never logged; errors name only the variable.
        """
        var = self.require(env_setting)
        value = os.environ.get(var)
        if not value:
            raise ConfigError(f"environment variable {var} (named by '{env_setting}') is not set")
        return value
