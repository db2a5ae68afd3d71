"""Files built once per machine and shared by every Timbral home on it: the sentence encoders built from the
packaged model (resolution/encoders.py) and an empty MLflow store to copy into new homes (tracking.py).

`TIMBRAL_CACHE` moves it; the default is ~/.cache/timbral. Everything in it is derived and can be deleted:
it is built again on first use. Entries are written aside and published by an atomic rename or link, so
processes building the same entry at once never see half of one.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    configured = os.environ.get("TIMBRAL_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "timbral"
