"""The wheel carries the lab extension and switches the server extension on (what `pip install .` installs)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "dockernb" / "jupyter" / "labextension"


def test_wheel_ships_both_extensions(tmp_path: Path) -> None:
    if not (BUILT / "package.json").exists():
        pytest.fail(f"{BUILT} is not built: run `make labext` (make test does)")
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (wheel,) = tmp_path.glob("dockernb-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        data = "dockernb-" + wheel.name.split("-")[1] + ".data/data/"
        ext = data + "share/jupyter/labextensions/dockernb-labext/"
        meta = json.loads(z.read(ext + "package.json"))
        config = json.loads(z.read(data + "etc/jupyter/jupyter_server_config.d/dockernb.json"))
        install = json.loads(z.read(ext + "install.json"))
    assert meta["name"] == "dockernb-labext" and meta["jupyterlab"]["_build"]["load"].startswith("static/")
    assert ext + meta["jupyterlab"]["_build"]["load"] in names
    assert ext + "static/style.js" in names
    assert config == {"ServerApp": {"jpserver_extensions": {"dockernb.jupyter": True}}}
    assert install["packageName"] == "dockernb"
    assert "dockernb/jupyter/app.py" in names and "dockernb/jupyter/handlers.py" in names
    # the build output goes to share/ only, and the build step itself is not part of dockernb
    assert not any(n.startswith("dockernb/jupyter/labextension/") for n in names)
    assert not any("hatch_build" in n or n.startswith("labextension/") for n in names)
