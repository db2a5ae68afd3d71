"""Shared fixtures. Everything a test writes goes under tmp_path; nothing touches the working directory."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest

# eval_metrics' protocol (a) (hetrec lastfm-2k, ~20 s) is left out of the test runs of the whole graph;
# test_recommend.py and the bench smoke test run it
os.environ.setdefault("TIMBRAL_HETREC_DIR", "off")

from timbral_assets.sources.synthetic import WorldConfig, generate_world

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

TINY_WORLD = WorldConfig(seed=7, n_scrobbles=6_000, start_date=date(2025, 3, 1), days=14)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory) -> Path:
    """A 6k-scrobble, 14-day world, generated once per test session."""
    folder = tmp_path_factory.mktemp("world")
    generate_world(TINY_WORLD, folder)
    return folder


@pytest.fixture
def world_in_bucket(tmp_path, tiny_world) -> Path:
    """A TIMBRAL_HOME whose bucket already points at the tiny world, as synthetic_world would leave it."""
    home = tmp_path / "home"
    pointer = home / "bucket" / "synthetic" / "current.json"
    pointer.parent.mkdir(parents=True)
    manifest = json.loads((tiny_world / "manifest.json").read_text())
    pointer.write_text(json.dumps({"folder": str(tiny_world), **manifest}))
    return home


def shared_file(*parts: str) -> Path:
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data set not present: {path} (the public data sets live in ../shared/data)")
    return path
