"""The differential test: one bundle (written by bundle.py with docker's defaults), run by runc and
by dockernb's runtime, the same probe script in both, outputs compared probe by probe.

Normalisation (everything else must match byte for byte):

- ``ls -l`` dates and times: the two runs happen at different minutes;
- the pids in ``ls /proc``: numbers depend on how many processes each runtime forked;
- rootless only, the ``groups=`` part of ``id``: runc keeps the caller's host supplementary
  groups in a rootless container (they show as root or nogroup); dockernb drops them whenever
  the kernel lets it (a subordinate gid map), which grants less, never more;
- overlay upper/work paths, devpts gid and tmpfs sizes would be normalised too, but both
  runtimes run the very same root directory and options here, so they do not differ.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from dockernb import runtime as rt
from dockernb.runtime.bundle import ContainerIntent, build_spec, write_bundle
from tests.integration.runtime.conftest import ROOTLESS, Box

PROBES = {
    "id": "id",
    "hostname": "hostname",
    "status": "grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status",
    "proc": "ls /proc",
    "mounts": "cat /proc/mounts",
    "ulimit": "ulimit -a",
    "dev": "ls -l /dev /dev/pts",
    "proc-sys-write": "echo x > /proc/sys/kernel/hostname; echo rc=$?",
    "sys-write": "touch /sys/kernel/dockernb-probe; echo rc=$?",
    "cgroup": "cat /proc/self/cgroup",
    "cgroupfs": "ls /sys/fs/cgroup",
    "idmaps": "cat /proc/self/uid_map /proc/self/gid_map",
    "masked": "for f in /proc/keys /proc/timer_list; do echo $f $(head -c1 $f | wc -c); done",
    "env": "env | sort",
    "cwd": "pwd",
}
# each probe's stderr joins its stdout inside the probe: runc relays stdout and stderr through two
# pipes of its own, so their interleaving across the two streams is not comparable
SCRIPT = "; ".join(f"echo '=== {name}'; {{ {cmd}; }} 2>&1" for name, cmd in PROBES.items())

VARIANTS = {
    "default": {},
    "user-caps-nnp-ro": {
        "user": "nobody",
        "cap_drop": ("ALL",),
        "cap_add": ("NET_BIND_SERVICE", "KILL"),
        "no_new_privileges": True,
        "read_only": True,
        "workdir": "/tmp",
    },
    "privileged": {"privileged": True},
}


def normalise(text: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    name = ""
    for line in text.splitlines():
        if line.startswith("=== "):
            name = line[4:]
            sections[name] = ""
            continue
        line = re.sub(r"\b[A-Z][a-z]{2} [ \d]\d (\d\d:\d\d|\d{4})\b", "<date>", line)
        if name == "proc":
            line = re.sub(r"^\d+$", "<pid>", line)
        if name == "id" and ROOTLESS:
            line = re.sub(r" groups=.*$", "", line)
        sections[name] += line + "\n"
    if "proc" in sections:
        sections["proc"] = "".join(sorted(set(sections["proc"].splitlines(keepends=True))))
    return sections


def _runc(root: Path, bundle: Path, cid: str) -> tuple[int, str]:
    with tempfile.TemporaryFile() as out:
        proc = subprocess.run(
            ["runc", "--root", str(root), "run", "-b", str(bundle), cid],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, timeout=30, check=False,
        )
        out.seek(0)
        return proc.returncode, out.read().decode(errors="replace")


def _dockernb(state: Path, bundle: Path, cid: str) -> tuple[int, str]:
    with tempfile.TemporaryFile() as out:
        code = rt.run(cid, state_dir=state, bundle=bundle, stdio=rt.Stdio(None, out.fileno(), out.fileno()))
        out.seek(0)
        return code, out.read().decode(errors="replace")


@pytest.mark.rootless
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_same_bundle_same_results(variant: str, box: Box, root_dir: Path) -> None:
    if shutil.which("runc") is None:
        pytest.fail("runc is not installed (apt-get install runc)")
    bundle = root_dir / "bundle"
    bundle.mkdir()
    intent = ContainerIntent(container_id="d1ff" + "0" * 60, cmd=("sh", "-c", SCRIPT), **VARIANTS[variant])  # type: ignore[arg-type]
    # both runtimes get the shared busybox root itself, read-only where the variant says so
    spec = build_spec(intent, rootfs=box.lower, root_path=str(box.lower))
    write_bundle(bundle, spec)
    runc_code, runc_out = _runc(root_dir / "runc-state", bundle, f"runc-{variant}")
    ours_code, ours_out = _dockernb(root_dir / "dnb-state" / variant, bundle, f"dnb-{variant}")
    assert runc_code == 0, runc_out
    assert ours_code == 0, ours_out
    want, got = normalise(runc_out), normalise(ours_out)
    assert list(got) == list(PROBES), ours_out
    for name in PROBES:
        assert got[name] == want[name], f"probe {name!r} differs:\nrunc:\n{want[name]}\ndockernb:\n{got[name]}"
    # the probes really probed something: guard against two equally broken runs
    assert "uid=" in got["id"] and "CapBnd" in got["status"] and " /proc proc " in got["mounts"]
    assert "Read-only file system" in got["proc-sys-write"] or variant == "privileged"
    assert not (root_dir / "dnb-state" / variant).exists()


def test_runc_state_cleanup_leaves_no_cgroup(root_dir: Path) -> None:
    """Our containers' cgroups live under the caller's own cgroup and go away with delete.

    Only this module's containers (ids starting d1ff) are checked: other containers of the same
    machine (another test still running one, another checkout's suite) share the parent cgroup.
    """
    from dockernb.linux import cgroups

    h = cgroups.discover()
    for ctl, own in h.v1.items():
        leftovers = list(Path(own).glob("dockernb/d1ff*")) if os.path.isdir(os.path.join(own, "dockernb")) else []
        assert not leftovers, f"{ctl}: {leftovers}"
