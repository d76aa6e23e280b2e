"""Pull orchestration through the fake registry: events, one read per blob, resume, verification, cleanup."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from dockernb.errors import InvalidManifest, ManifestUnknown, NoMatchingPlatform, VerificationFailed
from dockernb.layers.unpack import chain_id
from dockernb.spec.digest import Digest
from dockernb.spec.events import LayerStatus
from dockernb.spec.oci import MediaType, Platform
from dockernb.testing.registry import BlobFault, MemoryRegistry
from tests.unit.images.helpers import HOST, Concurrency, layer_data, layer_tar, lines, service

pytestmark = pytest.mark.rootless

REF = f"{HOST}/library/app:latest"


def _read_file(svc: object, chain: str, path: str) -> bytes:
    """A file of a committed chain, through a read-only view (native snapshots are plain directories)."""
    sn = svc.snapshotter  # type: ignore[attr-defined]
    key = f"view-{os.urandom(4).hex()}"
    mounts = sn.view(key, chain)
    try:
        with open(os.path.join(mounts[0].source, path), "rb") as fh:
            return fh.read()
    finally:
        sn.remove(key)


def _no_leftovers(svc: object) -> None:
    sn = svc.snapshotter  # type: ignore[attr-defined]
    assert [i.name for i in sn.walk() if not str(i.name).startswith("sha256:")] == []


def test_pull_prints_dockers_lines_and_stores_the_image(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    img = reg.add_image("library/app", "latest", [layer_tar("one"), layer_tar("two")],
                        platforms=(str(Platform.host()), "linux/s390x"))  # fmt: skip
    svc = service(tmp_path, reg)
    got = lines(svc.pull(REF))
    short = [Digest.parse(x).short for x in img.layers]
    assert got[:3] == ["latest: Pulling from library/app", f"{short[0]}: Pulling fs layer",
                       f"{short[1]}: Pulling fs layer"]  # fmt: skip
    assert got[-2:] == [f"Digest: {img.index}", f"Status: Downloaded newer image for {HOST}/library/app:latest"]
    # each layer: downloaded, then complete; layers complete bottom up (the downloads overlap)
    middle = got[3:-2]
    assert sorted(middle) == sorted(f"{s}: {state}" for s in short for state in ("Download complete", "Pull complete"))
    for s in short:
        assert middle.index(f"{s}: Download complete") < middle.index(f"{s}: Pull complete")
    assert middle.index(f"{short[0]}: Pull complete") < middle.index(f"{short[1]}: Pull complete")
    image = svc.get(REF)
    assert image.id == img.configs[0]
    assert image.tags == (f"{HOST}/library/app:latest",) and image.digests == (f"{HOST}/library/app@{img.index}",)
    assert _read_file(svc, image.top_chain, "two/data") == b"two" * 333 + b"t"
    assert image.size == 2 * 1000
    # the second pull asks the registry one question (HEAD of the tag) and changes nothing
    before = len(reg.log)
    assert lines(svc.pull(REF)) == ["latest: Pulling from library/app", f"Digest: {img.index}",
                                    f"Status: Image is up to date for {HOST}/library/app:latest"]  # fmt: skip
    assert [(e.method, e.path) for e in reg.log[before:]] == [("HEAD", "/v2/library/app/manifests/latest")]


def test_every_blob_is_fetched_once_and_kept(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    img = reg.add_image("library/app", "latest", [layer_tar(f"l{i}", 20_000, seed=i + 3) for i in range(4)])
    svc = service(tmp_path, reg)
    list(svc.pull(REF))
    gets = [e.path for e in reg.log if e.method == "GET" and "/blobs/" in e.path]
    assert sorted(gets) == sorted(f"/v2/library/app/blobs/{d}" for d in [*img.layers, *img.configs])
    for digest in img.layers:
        assert svc.content.info(Digest.parse(digest)).size == len(reg.blobs[digest])
    assert svc.content.list_statuses() == []
    _no_leftovers(svc)


def test_three_downloads_at_a_time_and_waiting(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    img = reg.add_image("library/app", "latest", [layer_tar(f"l{i}") for i in range(6)])
    transport = Concurrency(reg.transport(), delay=0.1)
    svc = service(tmp_path, transport=transport)
    got = lines(svc.pull(REF))
    assert transport.peak == 3
    waiting = [x for x in got if x.endswith(": Waiting")]
    assert waiting == [f"{Digest.parse(d).short}: Waiting" for d in img.layers[3:]]
    complete = [x.split(":")[0] for x in got if x.endswith("Pull complete")]
    assert complete == [Digest.parse(d).short for d in img.layers]  # extracted bottom up


def test_a_shared_base_layer_already_exists(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    base = layer_tar("base")
    reg.add_image("library/app", "latest", [base])
    other = reg.add_image("library/other", "latest", [base, layer_tar("top")], docker=True)
    svc = service(tmp_path, reg)
    list(svc.pull(REF))
    got = lines(svc.pull(f"{HOST}/library/other"))
    short = [Digest.parse(x).short for x in other.layers]
    assert got[:3] == ["latest: Pulling from library/other", f"{short[0]}: Already exists",
                       f"{short[1]}: Pulling fs layer"]  # fmt: skip
    assert f"{short[1]}: Pull complete" in got
    image = svc.get(f"{HOST}/library/other")
    assert [layer.size for layer in svc.record(image.id).layers] == [1000, 1000]


def test_a_garbled_layer_registers_nothing(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    img = reg.add_image("library/app", "latest", [layer_tar("one"), layer_tar("two")])
    reg.faults[img.layers[1]] = [BlobFault(garble=True, times=9)]
    svc = service(tmp_path, reg)
    with pytest.raises(VerificationFailed, match=f"filesystem layer verification failed for digest {img.layers[1]}"):
        list(svc.pull(REF))
    assert svc.list() == [] and svc.store.view().refs == {}
    # the bad bytes are gone, not kept for a resume (a good layer cut short may be, for the next pull)
    assert [s.ref for s in svc.content.list_statuses() if img.layers[1] in s.ref] == []
    with pytest.raises(Exception, match="not found"):
        svc.content.info(Digest.parse(img.layers[1]))
    assert [i.name for i in svc.snapshotter.walk()] == []  # the good bottom layer was dropped again
    reg.faults.clear()
    list(svc.pull(REF))  # and a clean pull works afterwards
    assert svc.get(REF).id == img.configs[0]


def test_a_dropped_connection_resumes_with_a_range_request(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    big = layer_tar("big", 300_000, seed=7)
    img = reg.add_image("library/app", "latest", [big, layer_tar("top", 200_000, seed=5)])
    reg.faults[img.layers[0]] = [BlobFault(drop_at=len(reg.blobs[img.layers[0]]) // 2)]
    reg.faults[img.layers[1]] = [BlobFault(drop_at=1000)]
    svc = service(tmp_path, reg)
    list(svc.pull(REF))
    ranged = [e for e in reg.log if "Range" in e.headers]
    assert sorted(e.path.rsplit("/", 1)[1] for e in ranged) == sorted(img.layers)
    assert svc.get(REF).id == img.configs[0]


def test_an_interrupted_pull_resumes_where_it_stopped(tmp_path: Path) -> None:
    """What kill -9 leaves (partial ingests) is picked up: only the missing bytes are asked for."""
    reg = MemoryRegistry(HOST)
    img = reg.add_image("library/app", "latest", [layer_tar("one", 100_000, seed=3), layer_tar("two", 100_000, seed=9)])
    svc = service(tmp_path, reg)
    for digest in img.layers:  # both layers half downloaded by a pull that died
        blob = reg.blobs[digest]
        w = svc.content.writer(f"layer-{digest}", expected=Digest.parse(digest), size=len(blob))
        w.write(blob[: len(blob) // 2])
        w.close()
    list(svc.pull(REF))
    ranged = {e.path.rsplit("/", 1)[1]: e.headers["Range"] for e in reg.log if "Range" in e.headers}
    assert ranged == {d: f"bytes={len(reg.blobs[d]) // 2}-" for d in img.layers}
    image = svc.get(REF)
    # the bottom layer was extracted from the replayed half plus the network's half
    assert _read_file(svc, image.top_chain, "one/data") == layer_data("one", 100_000, 3)
    assert _read_file(svc, image.top_chain, "two/data") == layer_data("two", 100_000, 9)
    assert svc.content.list_statuses() == []


def test_a_closed_pull_leaves_no_half_image(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    reg.add_image("library/app", "latest", [layer_tar(f"l{i}", 50_000, seed=i + 1) for i in range(3)])
    svc = service(tmp_path, reg)
    it = svc.pull(REF)
    for message in it:
        if message.status == LayerStatus.PULLING:
            break
    it.close()
    assert svc.list() == []
    _no_leftovers(svc)
    list(svc.pull(REF))  # what was stored is reused
    assert len(svc.list()) == 1


def test_registry_errors_in_dockers_words(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    svc = service(tmp_path, reg)
    with pytest.raises(ManifestUnknown, match=f"manifest for {HOST}/library/nosuch:latest not found"):
        list(svc.pull(f"{HOST}/library/nosuch"))
    reg.add_image("library/app", "latest", [layer_tar("one")], platforms=("linux/s390x",))
    with pytest.raises(NoMatchingPlatform, match="no matching manifest for linux/.* in the manifest list entries"):
        list(svc.pull(REF))
    # malformed: a manifest that is not JSON
    reg.add_manifest("library/bad", MediaType.OCI_MANIFEST, b"{not json", "latest")
    with pytest.raises(InvalidManifest, match="error unmarshalling content: invalid character 'n'"):
        list(svc.pull(f"{HOST}/library/bad"))
    # a layer type nobody can unpack
    good = reg.add_image("library/odd", "latest", [layer_tar("one")])
    doc = json.loads(reg.repos["library/odd"].manifests[good.manifests[0]][1])
    doc["layers"][0]["mediaType"] = "application/vnd.example.layer.v1+foo"
    reg.add_manifest("library/odd", MediaType.OCI_MANIFEST, json.dumps(doc).encode(), "latest")
    with pytest.raises(InvalidManifest, match="unsupported layer media type: application/vnd.example.layer.v1\\+foo"):
        list(svc.pull(f"{HOST}/library/odd"))
    assert svc.list() == []
    _no_leftovers(svc)


def test_pull_by_digest_names_only_the_digest(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    img = reg.add_image("library/app", "latest", [layer_tar("one")])
    svc = service(tmp_path, reg)
    got = lines(svc.pull(f"{HOST}/library/app@{img.manifests[0]}"))
    assert got[0] == f"{img.manifests[0]}: Pulling from library/app"
    assert got[-1] == f"Status: Downloaded newer image for {HOST}/library/app@{img.manifests[0]}"
    image = svc.get(img.configs[0])
    assert image.tags == () and image.digests == (f"{HOST}/library/app@{img.manifests[0]}",)


def test_all_tags(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    a = reg.add_image("library/app", "a", [layer_tar("one")])
    b = reg.add_image("library/app", "b", [layer_tar("two")])
    svc = service(tmp_path, reg)
    got = lines(svc.pull(f"{HOST}/library/app", all_tags=True))
    assert "a: Pulling from library/app" in got and "b: Pulling from library/app" in got
    assert got[-1] == f"Status: Downloaded newer image for {HOST}/library/app"
    assert {i.id for i in svc.list()} == {a.configs[0], b.configs[0]}


def test_chain_ids_name_the_snapshots(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    reg.add_image("library/app", "latest", [layer_tar("one"), layer_tar("two")])
    svc = service(tmp_path, reg)
    list(svc.pull(REF))
    image = svc.get(REF)
    parent = ""
    for diff_id in image.diff_ids:
        parent = chain_id(parent, diff_id)
        assert svc.has_snapshot(parent)
    assert parent == image.top_chain


def test_two_pulls_of_one_image_at_once_share_the_work(tmp_path: Path) -> None:
    """Two engines on one root (two processes, say) pulling the same image: one downloads each blob,
    the other waits for its ingest and uses it; both end with the same image, nothing left over."""
    import threading

    reg = MemoryRegistry(HOST)
    img = reg.add_image("library/app", "latest", [layer_tar(f"l{i}", 300_000, seed=i + 2) for i in range(3)])
    transport = Concurrency(reg.transport(), delay=0.05)
    first, second = service(tmp_path, transport=transport), service(tmp_path, transport=transport)
    errors: list[BaseException] = []

    def pull(svc: object) -> None:
        try:
            list(svc.pull(REF))  # type: ignore[attr-defined]
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    threads = [threading.Thread(target=pull, args=(s,)) for s in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert first.get(REF).id == second.get(REF).id == img.configs[0]
    layer_gets = [r for r in transport.requests if r.method == "GET" and any(d in r.url for d in img.layers)]
    assert len(layer_gets) == len(img.layers)  # every blob downloaded once, by one of them
    assert first.content.list_statuses() == []
    _no_leftovers(first)
