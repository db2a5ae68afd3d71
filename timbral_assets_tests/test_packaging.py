"""A built wheel, installed away from the repo, loads the definitions: the SQL models and the instance
settings travel inside the package."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHECK = """
import sys
sys.path.insert(0, sys.argv[1])  # the installed copy, ahead of the repo's editable install
import timbral_assets
assert timbral_assets.__file__.startswith(sys.argv[1]), timbral_assets.__file__
from timbral_assets.definitions import defs
from timbral_assets.sql_project import SQL_ROOT, SqlProject
from timbral_assets.cli import PACKAGE_DIR
assert str(SQL_ROOT).startswith(sys.argv[1]) and not SQL_ROOT.is_symlink()
keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
print(len(SqlProject.load().models), len(keys), (PACKAGE_DIR / "dagster.yaml").read_text().count("TimbralSqliteEventLogStorage"))
"""


def test_a_built_wheel_loads_the_definitions_away_from_the_repo(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path / "dist"), str(REPO)], check=True, capture_output=True, text=True)
    (wheel,) = (tmp_path / "dist").glob("timbral_assets-*.whl")
    sql_files = sorted(p.relative_to(REPO / "dbt_like_sql") for p in (REPO / "dbt_like_sql").glob("*/*.sql"))
    with zipfile.ZipFile(wheel) as archive:
        packed = sorted(Path(n).relative_to("timbral_assets/dbt_like_sql") for n in archive.namelist()
                        if n.startswith("timbral_assets/dbt_like_sql/"))
    assert packed == sql_files
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, text=True)
    done = subprocess.run([sys.executable, "-c", CHECK, str(site)], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    models, assets, storage = (int(x) for x in done.stdout.split())
    assert models == len(sql_files) - 1  # every file but the macros is a model
    assert assets >= 26 and storage == 1
