"""Reading journey files, with errors that name the file, the key and the problem."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from parcours.config.schema import JourneyConfig
from parcours.errors import ConfigError

TEMPLATES = ("five-stages", "ecommerce")


def template_text(name: str) -> str:
    if name not in TEMPLATES:
        raise ConfigError(f"unknown template {name!r}: choose one of {', '.join(TEMPLATES)}")
    return resources.files("parcours.config").joinpath("templates", f"{name}.toml").read_text("utf-8")


def _key_path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def parse_config(text: str, origin: str = "<journey>") -> JourneyConfig:
    """Parse and validate TOML text; ``origin`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{origin}: not valid TOML: {e}") from None
    try:
        return JourneyConfig.model_validate(data)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{_key_path(err['loc'])}: {msg}")
        raise ConfigError(f"{origin}: " + "; ".join(problems)) from None


def load_config(path: str | Path) -> JourneyConfig:
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: journey file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read journey file: {e}") from None
    return parse_config(text, str(path))


def default_config() -> JourneyConfig:
    """The five-stage model, used by a store that has no journey file yet."""
    return parse_config(template_text("five-stages"), "template five-stages")
