"""Build the kit (cached by input hash) and publish it to the three registries.

Layout of the kit directory (``DOCKERNB_KIT_DIR``; /var/cache/dockernb/kit for root,
``$XDG_CACHE_HOME/dockernb/kit`` otherwise)::

    rootfs/<name>-<hash>.tar     root filesystems (busybox, mmdebstrap, hello)
    oci/                         the OCI image layout (umoci), one tag per image
    registry/<name>/             config.yml and data of each registry
    auth/                        htpasswd, users.json, token.key/crt
    run/                         PID files and logs
    state.json                   which rootfs hashes each image and push was made from
    env.sh                       the environment a shell needs to use the kit
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dockernb.labkit import layout, recipes, registries, rootfs

__all__ = ["build", "env", "kit_dir", "publish", "up"]


def kit_dir() -> Path:
    if os.environ.get("DOCKERNB_KIT_DIR"):
        return Path(os.environ["DOCKERNB_KIT_DIR"])
    if os.geteuid() == 0:
        return Path("/var/cache/dockernb/kit")
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "dockernb" / "kit"


def _load_state(kit: Path) -> dict[str, dict[str, str]]:
    try:
        data: dict[str, dict[str, str]] = json.loads((kit / "state.json").read_text())
        return data
    except (OSError, ValueError):
        return {"layout": {}, "pushed": {}}


def _save_state(kit: Path, state: dict[str, dict[str, str]]) -> None:
    fd, tmp = tempfile.mkstemp(dir=kit, prefix=".state-")
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, kit / "state.json")


Log = Callable[[str], None]


def build(kit: Path, log: Log = print) -> dict[str, str]:
    """Make every rootfs and image that is missing or whose inputs changed; return image -> input key."""
    kit.mkdir(parents=True, exist_ok=True)
    extra = recipes.host_inputs()
    tars = {n: kit / "rootfs" / f"{n}-{recipes.input_hash(r, extra)}.tar" for n, r in recipes.ROOTFS.items()}
    missing = [n for n, p in tars.items() if not p.exists()]
    if missing:
        log(f"building root filesystems: {', '.join(missing)}")
        t0 = time.monotonic()
        # mmdebstrap spends its time waiting for the mirror and dpkg: run them side by side
        with ThreadPoolExecutor(max_workers=3) as pool:
            for f in [pool.submit(rootfs.build_rootfs, recipes.ROOTFS[n], tars[n]) for n in missing]:
                f.result()
        log(f"  root filesystems done in {time.monotonic() - t0:.1f}s")
        for old in (kit / "rootfs").glob("*.tar"):
            if old not in tars.values():
                old.unlink()
    state = _load_state(kit)
    oci = kit / "oci"
    keys = {}
    for img in recipes.IMAGES:
        key = "+".join(tars[n].stem for n in img.layers + img.extra_arch) + f"/{img.fmt}/{recipes.RECIPE_VERSION}"
        keys[img.layout_tag] = key
        if state["layout"].get(img.layout_tag) == key and layout.layout_has(oci, img.layout_tag):
            continue
        log(f"making image {img.repo}:{img.tag} ({img.fmt})")
        layout.add_image(oci, img, tars)
        state["layout"][img.layout_tag] = key
        _save_state(kit, state)
    return keys


def _registry_link(reg: registries.Registry, repo: str, tag: str) -> str:
    link = reg.dir / "data/docker/registry/v2/repositories" / repo / "_manifests/tags" / tag / "current/link"
    try:
        return link.read_text().strip()
    except OSError:
        return ""


def publish(kit: Path, keys: dict[str, str], log: Log = print) -> None:
    """Push each image to its registries unless that exact build is already there."""
    regs = registries.registries(kit)
    state = _load_state(kit)
    for img in recipes.IMAGES:
        for rname in img.registries:
            reg = regs[rname]
            slot = f"{rname}/{img.repo}:{img.tag}"
            recorded = state["pushed"].get(slot, "")
            want_key = keys[img.layout_tag]
            if recorded.startswith(want_key + "@") and _registry_link(reg, img.repo, img.tag) == recorded.split("@")[1]:
                continue
            cmd = ["skopeo", "copy", "-q", "--dest-tls-verify=false"]
            if img.fmt in ("oci-index", "v2s2-list"):
                cmd.append("--all")
            if img.fmt in ("v2s2", "v2s2-list"):
                cmd += ["--format", "v2s2"]
            if reg.auth:
                cmd += ["--dest-creds", ":".join(reg.auth)]
            with tempfile.NamedTemporaryFile(dir=kit, prefix=".digest-") as digest:
                cmd += ["--digestfile", digest.name, f"oci:{kit / 'oci'}:{img.layout_tag}",
                        f"docker://{reg.addr}/{img.repo}:{img.tag}"]
                log(f"pushing {reg.addr}/{img.repo}:{img.tag}")
                subprocess.run(cmd, check=True)
                pushed = Path(digest.name).read_text().strip()
            state["pushed"][slot] = f"{want_key}@{pushed}"
            _save_state(kit, state)


def env(kit: Path) -> dict[str, str]:
    regs = registries.registries(kit)
    return {
        "DOCKERNB_REGISTRY_MIRRORS": f"http://{regs['open'].addr}",
        "DOCKERNB_INSECURE_REGISTRIES": ",".join(r.addr for r in regs.values()),
        "DOCKERNB_KIT_DIR": str(kit),
    }


def up(kit: Path | None = None, log: Log = print) -> dict[str, str]:
    """Build (cached), start the registries (idempotent), publish; return the environment to use."""
    kit = kit or kit_dir()
    keys = build(kit, log)
    registries.start_all(kit)
    publish(kit, keys, log)
    variables = env(kit)
    (kit / "env.sh").write_text("".join(f"export {k}={v}\n" for k, v in variables.items()))
    return variables
