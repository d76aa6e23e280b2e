"""The OCI spec model (reads what `runc spec` writes) and docker's user resolution."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from dockernb.errors import InvalidArgument, InvalidConfig
from dockernb.runtime.users import additional_gids, resolve_user
from dockernb.spec.runtime import spec_from_json, spec_to_json

pytestmark = pytest.mark.rootless

PASSWD = "root:x:0:0:root:/root:/bin/sh\n# comment\nbad line\napp:x:1000:1001::/home/app:/bin/sh\n"
GROUP = "root:x:0:\napp:x:1001:\nwheel:x:10:root,app\nstaff:x:50:app\n"


@pytest.mark.parametrize("rootless", [False, True])
def test_reads_what_runc_spec_writes(tmp_path: Path, rootless: bool) -> None:
    if shutil.which("runc") is None:
        pytest.fail("runc is not installed (apt-get install runc)")
    subprocess.run(["runc", "spec", *(["--rootless"] if rootless else []), "-b", str(tmp_path)], check=True)
    data = json.loads((tmp_path / "config.json").read_text())
    spec = spec_from_json(data)
    assert spec.process.args == ("sh",) and spec.root.path == "rootfs" and spec.root.readonly
    assert spec.process.capabilities is not None and "CAP_KILL" in spec.process.capabilities.bounding
    assert [m.target for m in spec.mounts][:2] == ["/proc", "/dev"]
    assert bool(spec.linux.uid_mappings) == rootless
    # the round trip keeps everything this model knows
    again = spec_to_json(spec)
    for key in ("process", "root", "hostname", "mounts"):
        assert again[key] == data[key], key
    assert spec_from_json(again) == spec


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.pop("process"), "process: missing"),
        (lambda d: d["process"].update(args=[]), "process.args: must not be empty"),
        (lambda d: d["process"].update(args="sh"), "process.args: wrong type"),
        (lambda d: d["root"].pop("path"), "root.path: missing"),
        (lambda d: d["linux"]["namespaces"].append({"type": "time"}), "namespace type 'time'"),
        (lambda d: d["mounts"].append({"destination": "rel", "type": "tmpfs"}), "is not absolute"),
        (lambda d: d["process"]["rlimits"][0].pop("hard"), r"process.rlimits\[0\].hard: missing"),
    ],
)
def test_bad_specs_name_the_field(tmp_path: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    subprocess.run(["runc", "spec", "-b", str(tmp_path)], check=True)
    data = json.loads((tmp_path / "config.json").read_text())
    change(data)
    with pytest.raises(InvalidConfig, match=message):
        spec_from_json(data)


def test_resolve_user_like_docker() -> None:
    root = resolve_user("", PASSWD, GROUP)
    assert (root.uid, root.gid, root.home, root.sgids) == (0, 0, "/root", (10,))
    app = resolve_user("app", PASSWD, GROUP)
    assert (app.uid, app.gid, app.home, app.sgids) == (1000, 1001, "/home/app", (10, 50))
    assert resolve_user("1000", PASSWD, GROUP).sgids == (10, 50)  # a known uid counts as its name
    explicit = resolve_user("app:wheel", PASSWD, GROUP)
    assert (explicit.gid, explicit.sgids) == (10, ())  # an explicit group: no supplementary ones
    unknown = resolve_user("4242:77", PASSWD, GROUP)
    assert (unknown.uid, unknown.gid, unknown.home, unknown.sgids) == (4242, 77, "/", ())
    assert resolve_user("4242", None, None).gid == 0  # no passwd file at all
    with pytest.raises(InvalidArgument, match="^unable to find user ghost: no matching entries in passwd file$"):
        resolve_user("ghost", PASSWD, GROUP)
    with pytest.raises(InvalidArgument, match="^unable to find group nogrp: no matching entries in group file$"):
        resolve_user("app:nogrp", PASSWD, GROUP)
    with pytest.raises(InvalidArgument, match="must be in range"):
        resolve_user(str(2**32), PASSWD, GROUP)
    assert additional_gids(("staff", "99"), GROUP) == (50, 99)
    with pytest.raises(InvalidArgument, match="Unable to find group nope"):
        additional_gids(("nope",), GROUP)
