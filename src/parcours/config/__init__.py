"""The journey model: load, validate and write journey files."""

from parcours.config.loader import TEMPLATES, default_config, load_config, parse_config, template_text
from parcours.config.schema import JourneyConfig, Stage, Touchpoint

__all__ = [
    "TEMPLATES", "JourneyConfig", "Stage", "Touchpoint", "default_config", "load_config",
    "parse_config", "template_text",
]
