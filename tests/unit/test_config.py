from __future__ import annotations

import json
from pathlib import Path

import pytest

from dockernb.config import load_config
from dockernb.errors import InvalidConfig


def test_defaults_root_and_user(tmp_path: Path) -> None:
    env = {"HOME": str(tmp_path), "DOCKERNB_CONFIG": str(tmp_path / "none.json")}
    assert load_config(env, uid=0).root == Path("/var/lib/dockernb")
    user = load_config(env, uid=1000)
    assert user.root == tmp_path / ".local/share/dockernb"
    assert user.rootless
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    assert load_config(env, uid=1000).root == tmp_path / "data/dockernb"


def test_file_then_env_wins(tmp_path: Path) -> None:
    f = tmp_path / "daemon.json"
    f.write_text(json.dumps({"data-root": "/srv/dnb", "registry-mirrors": ["http://127.0.0.1:5000"],
                             "insecure-registries": ["127.0.0.1:5001"]}))
    env = {"HOME": str(tmp_path), "DOCKERNB_CONFIG": str(f)}
    cfg = load_config(env, uid=0)
    assert cfg.root == Path("/srv/dnb")
    assert cfg.registry_mirrors == ("http://127.0.0.1:5000",)
    assert cfg.insecure_registries == ("127.0.0.1:5001",)
    assert cfg.sources["root"] == "file"
    env.update(DOCKERNB_ROOT="/tmp/x", DOCKERNB_REGISTRY_MIRRORS="127.0.0.1:5009, http://h:1/",
               DOCKERNB_INSECURE_REGISTRIES="")
    cfg = load_config(env, uid=0)
    assert cfg.root == Path("/tmp/x") and cfg.sources["root"] == "env"
    assert cfg.registry_mirrors == ("http://127.0.0.1:5009", "http://h:1")
    assert cfg.insecure_registries == ()


@pytest.mark.parametrize(
    "content", ["{not json", "[1]", json.dumps({"data-root": "relative"}), json.dumps({"registry-mirrors": "x"})]
)
def test_bad_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    f = tmp_path / "daemon.json"
    f.write_text(content)
    with pytest.raises(InvalidConfig) as err:
        load_config({"HOME": str(tmp_path), "DOCKERNB_CONFIG": str(f)}, uid=0)
    assert str(f) in str(err.value)


def test_relative_root_env_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig):
        load_config({"HOME": str(tmp_path), "DOCKERNB_ROOT": "rel", "DOCKERNB_CONFIG": "/nonexistent"}, uid=0)
