"""The synthetic world generator: Timbral's embedded default data and evaluation ground truth."""

from .variants import DEFAULT_VARIANT_RATES, VARIANT_KINDS
from .world import SCROBBLE_SCHEMA, WorldConfig, generate_world

__all__ = ["DEFAULT_VARIANT_RATES", "SCROBBLE_SCHEMA", "VARIANT_KINDS", "WorldConfig", "generate_world"]
