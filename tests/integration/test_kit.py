"""The offline kit: three real registries serving honest images in the promised formats."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.error
import urllib.request
from typing import Any

import pytest

from dockernb.labkit import recipes
from dockernb.labkit.registries import KIT_PASSWORD, KIT_USER

pytestmark = [pytest.mark.kit, pytest.mark.rootless]

ACCEPT = ", ".join([
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
])


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers={"Accept": ACCEPT, **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def manifest(repo: str, tag: str, registry: str = "127.0.0.1:5000") -> dict[str, Any]:
    code, headers, body = get(f"http://{registry}/v2/{repo}/manifests/{tag}")
    assert code == 200, body
    data: dict[str, Any] = json.loads(body)
    data["_content_type"] = headers["Content-Type"]
    return data


def test_catalog_of_the_open_registry(kit_env: dict[str, str]) -> None:
    code, _, body = get("http://127.0.0.1:5000/v2/_catalog")
    assert code == 200
    repos = set(json.loads(body)["repositories"])
    assert {"library/busybox", "library/debian", "library/hello-world", "library/nginx", "library/python"} <= repos
    assert not any("ubuntu" in r for r in repos)


def test_formats(kit_env: dict[str, str]) -> None:
    idx = manifest("library/busybox", "latest")
    assert idx["_content_type"] == "application/vnd.oci.image.index.v1+json"
    archs = {(m["platform"]["architecture"], m["platform"].get("variant")) for m in idx["manifests"]}
    assert archs == {("amd64", None), ("arm64", "v8")}
    lst = manifest("library/hello-world", "latest")
    assert lst["_content_type"] == "application/vnd.docker.distribution.manifest.list.v2+json"
    zstd = manifest("library/busybox", "zstd")
    assert [layer["mediaType"] for layer in zstd["layers"]] == ["application/vnd.oci.image.layer.v1.tar+zstd"]
    deb = manifest("library/debian", "bookworm")
    assert deb["_content_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert deb["layers"][0]["mediaType"].endswith("tar+gzip")
    nginx = manifest("library/nginx", "latest")
    assert nginx["_content_type"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert len(nginx["layers"]) == 2
    # nginx and python share debian's base layer blob (one snapshot per chain later)
    py = manifest("library/python", "3.11")
    assert nginx["layers"][0]["digest"] == py["layers"][0]["digest"]


def test_skopeo_reads_every_image_with_labels(kit_env: dict[str, str]) -> None:
    for img in recipes.IMAGES:
        if "open" not in img.registries:
            continue
        r = subprocess.run(
            ["skopeo", "inspect", "--tls-verify=false", f"docker://127.0.0.1:5000/{img.repo}:{img.tag}"],
            capture_output=True, text=True, timeout=60,
        )
        assert r.returncode == 0, r.stderr
        info = json.loads(r.stdout)
        assert info["Architecture"] == "amd64"
        assert info["Labels"]["org.opencontainers.image.source"].startswith("dockernb labkit")


def test_arm64_busybox_is_really_arm64(kit_env: dict[str, str], tmp_path: Any) -> None:
    idx = manifest("library/busybox", "latest")
    arm = next(m for m in idx["manifests"] if m["platform"]["architecture"] == "arm64")
    man = json.loads(get(f"http://127.0.0.1:5000/v2/library/busybox/manifests/{arm['digest']}")[2])
    code, _, blob = get(f"http://127.0.0.1:5000/v2/library/busybox/blobs/{man['layers'][0]['digest']}")
    assert code == 200
    import gzip
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(blob))) as tar:
        member = next(m for m in tar.getmembers() if m.name.lstrip("./") == "bin/busybox")
        head = tar.extractfile(member).read(20)  # type: ignore[union-attr]
    assert head[:4] == b"\x7fELF" and int.from_bytes(head[18:20], "little") == 183  # EM_AARCH64


def test_basic_auth_registry(kit_env: dict[str, str]) -> None:
    assert get("http://127.0.0.1:5001/v2/")[0] == 401
    assert get("http://127.0.0.1:5001/v2/", basic(KIT_USER, "wrong"))[0] == 401
    code, _, body = get("http://127.0.0.1:5001/v2/_catalog", basic(KIT_USER, KIT_PASSWORD))
    assert code == 200 and "library/busybox" in json.loads(body)["repositories"]


def _token(scope: str, creds: tuple[str, str] | None = None) -> tuple[int, str]:
    code, headers, _ = get(f"http://127.0.0.1:5002/v2/{scope.split(':')[1]}/manifests/latest")
    assert code == 401
    challenge = headers["Www-Authenticate"]
    assert challenge.startswith("Bearer ")
    params = dict(p.split("=", 1) for p in challenge[len("Bearer "):].split(","))
    params = {k: v.strip('"') for k, v in params.items()}
    url = f"{params['realm']}?service={params['service']}&scope={scope}"
    code, _, body = get(url, basic(*creds) if creds else None)
    return code, json.loads(body).get("token", "") if code == 200 else ""


def test_token_registry_bearer_flow(kit_env: dict[str, str]) -> None:
    # anonymous pull of a public repository
    code, token = _token("repository:library/busybox:pull")
    assert code == 200
    code, _, _ = get("http://127.0.0.1:5002/v2/library/busybox/manifests/latest", {"Authorization": f"Bearer {token}"})
    assert code == 200
    # private repository: anonymous token grants nothing
    code, token = _token("repository:private/busybox:pull")
    assert code == 200
    code, _, _ = get("http://127.0.0.1:5002/v2/private/busybox/manifests/latest", {"Authorization": f"Bearer {token}"})
    assert code == 401
    # with credentials it works; wrong credentials are refused by the issuer
    code, token = _token("repository:private/busybox:pull", (KIT_USER, KIT_PASSWORD))
    code, _, _ = get("http://127.0.0.1:5002/v2/private/busybox/manifests/latest", {"Authorization": f"Bearer {token}"})
    assert code == 200
    code, _ = _token("repository:private/busybox:pull", (KIT_USER, "wrong"))
    assert code == 401


def test_python_image_trusts_the_host_ca_and_allows_pip(kit_env: dict[str, str], tmp_path: Any) -> None:
    r = subprocess.run(
        ["skopeo", "inspect", "--config", "--tls-verify=false", "docker://127.0.0.1:5000/library/python:3.11"],
        capture_output=True, text=True, timeout=60,
    )
    assert r.returncode == 0, r.stderr
    config = json.loads(r.stdout)["config"]
    assert "PIP_BREAK_SYSTEM_PACKAGES=1" in config["Env"]
    nginx = json.loads(subprocess.run(
        ["skopeo", "inspect", "--config", "--tls-verify=false", "docker://127.0.0.1:5000/library/nginx:latest"],
        capture_output=True, text=True, timeout=60, check=True).stdout)["config"]
    assert nginx["ExposedPorts"] == {"80/tcp": {}}
    assert nginx["Cmd"] == ["nginx", "-g", "daemon off;"]
    assert nginx["StopSignal"] == "SIGQUIT"
