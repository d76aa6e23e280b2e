"""What builds and `commit` use: layers added from tars, configs committed on them, parents in history."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from dockernb.build.image import History, ImageDoc
from dockernb.errors import InternalError
from tests.unit.images.helpers import layer_data, layer_tar, service

pytestmark = pytest.mark.rootless


def test_layers_added_here_make_images_with_parents(tmp_path: Path) -> None:
    svc = service(tmp_path)
    base, base_chain = svc.add_layer(io.BytesIO(layer_tar("base", compress="none")))
    top, top_chain = svc.add_layer(io.BytesIO(layer_tar("top", 500)), parent_chain=base_chain)
    assert base.blob is not None and base.blob.digest == base.diff_id  # a plain tar's blob is its diff
    assert top.blob is not None and top.blob.media_type.endswith("gzip") and top.size == 500
    created = "2024-01-02T03:04:05Z"
    base_id = svc.commit(ImageDoc(created=created, diff_ids=[base.diff_id],
                                  history=[History(created=created, created_by="ADD base")]).to_bytes(),
                         tags=["base:1"])  # fmt: skip
    app_id = svc.commit(ImageDoc(created=created, diff_ids=[base.diff_id, top.diff_id],
                                 history=[History(created=created, created_by="ADD base"),
                                          History(created=created, created_by="ADD top")]).to_bytes(),
                        parent=base_id, tags=["app:1"])  # fmt: skip
    app = svc.get("app:1")
    assert app.id == app_id and app.top_chain == top_chain and app.parent == base_id and app.size == 1500
    assert [(h.id, h.created_by, h.size) for h in svc.history("app:1")] == [
        (app_id, "ADD top", 500), (base_id, "ADD base", 1000)]  # fmt: skip
    with pytest.raises(InternalError, match="was never added"):
        svc.commit(ImageDoc(diff_ids=["sha256:" + "0" * 64]).to_bytes())
    # images made here save and load like pulled ones
    out = io.BytesIO()
    svc.save(["app:1"], out)
    other = service(tmp_path / "other")
    assert [m.status for m in other.load(io.BytesIO(out.getvalue()))][-1] == "Loaded image: app:1"
    loaded = other.get("app:1")
    assert loaded.id == app_id and loaded.size == 1500
    key = "check"
    mounts = other.snapshotter.view(key, loaded.top_chain)
    try:
        with open(Path(mounts[0].source) / "top" / "data", "rb") as f:
            assert f.read() == layer_data("top", 500)
    finally:
        other.snapshotter.remove(key)
