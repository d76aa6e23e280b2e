"""The image verbs' output through the shared dispatcher: tables, formats, progress, errors, exit codes."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dockernb.engine import Engine
from dockernb.engine.image_types import ImageUse
from dockernb.engine.images import ImageService
from dockernb.present.context import Context
from dockernb.present.dispatch import dispatch
from dockernb.present.images import ProgressPrinter, progress_bar, size3
from dockernb.spec.events import ProgressMessage
from dockernb.testing.registry import MemoryRegistry
from tests.unit.images.helpers import HOST, Users, add_record, layer_tar, service

pytestmark = pytest.mark.rootless


class _Bytes(io.StringIO):
    """A text stream with a binary buffer (what `save` writes a tar to), never a terminal."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = io.BytesIO()


def run(svc: ImageService, *argv: str, stdin: bytes | None = None) -> tuple[int, str, str, bytes]:
    engine = Engine(svc.config)
    engine.__dict__["images"] = svc
    out, err = _Bytes(), io.StringIO()
    ctx = Context(prog="dockernb", out=out, err=err, stdin=io.BytesIO(stdin) if stdin is not None else None,
                  _engine=engine)  # fmt: skip
    code = dispatch(list(argv), ctx)
    return code, out.getvalue(), err.getvalue(), out.buffer.getvalue()


def test_sizes_like_go_units() -> None:
    assert [size3(x) for x in (0, 999, 1000, 1_990_000, 164_269_714, 1_234_567_890)] == [
        "0B", "999B", "1kB", "1.99MB", "164MB", "1.23GB"]  # fmt: skip


def test_images_table_quiet_digests_no_trunc_format(tmp_path: Path) -> None:
    svc = service(tmp_path)
    when = datetime.now(UTC) - timedelta(hours=3)
    rec = add_record(svc, tags=["docker.io/library/busybox:latest", "127.0.0.1:5000/busybox:latest"],
                     digests=["127.0.0.1:5000/busybox@sha256:" + "5" * 64], created=when)  # fmt: skip
    dangling = add_record(svc, created=when - timedelta(days=3), seed="x")
    code, out, err, _ = run(svc, "images")
    assert (code, err) == (0, "")
    assert out == (
        "REPOSITORY               TAG       IMAGE ID       CREATED       SIZE\n"
        f"127.0.0.1:5000/busybox   latest    {rec.short_id}   3 hours ago   100B\n"
        f"busybox                  latest    {rec.short_id}   3 hours ago   100B\n"
        f"<none>                   <none>    {dangling.short_id}   3 days ago    100B\n"
    )
    assert run(svc, "images", "-q")[1] == f"{rec.short_id}\n{rec.short_id}\n{dangling.short_id}\n"
    out = run(svc, "images", "--digests", "busybox")[1].splitlines()
    assert out[0].split() == ["REPOSITORY", "TAG", "DIGEST", "IMAGE", "ID", "CREATED", "SIZE"]
    assert out[1].split()[:3] == ["busybox", "latest", "<none>"]
    out = run(svc, "images", "--digests", "127.0.0.1:5000/busybox")[1].splitlines()
    assert out[1].split()[:3] == ["127.0.0.1:5000/busybox", "latest", "sha256:" + "5" * 64]
    assert rec.id in run(svc, "images", "--no-trunc")[1]
    assert run(svc, "images", "--format", "{{.Repository}}:{{.Tag}}")[1] == (
        "127.0.0.1:5000/busybox:latest\nbusybox:latest\n<none>:<none>\n")
    assert run(svc, "images", "--format", "table {{.ID}}\\t{{.Size}}", "-f", "dangling=true")[1] == (
        f"IMAGE ID       SIZE\n{dangling.short_id}   100B\n")
    assert run(svc, "images", "-f", "dangling=true", "-f", "label=x")[1] == (
        "REPOSITORY   TAG       IMAGE ID   CREATED   SIZE\n")
    code, _, err, _ = run(svc, "images", "--format", "{{.Nope}}")
    assert code == 1 and "can't evaluate field Nope" in err
    code, _, err, _ = run(svc, "images", "-f", "oops")
    assert (code, err) == (125, 'invalid argument "oops" for "-f, --filter" flag: bad format of filter (expected '
                                "name=value)\nSee 'dockernb images --help'.\n")  # fmt: skip
    assert run(svc, "images", "-f", "what=x")[2] == "Error response from daemon: Invalid filter 'what'\n"


def test_rmi_errors_per_argument(tmp_path: Path) -> None:
    users = Users()
    svc = service(tmp_path, users=users)
    rec = add_record(svc, tags=["docker.io/library/busybox:latest", "docker.io/library/other:1"])
    code, out, err, _ = run(svc, "rmi", "nosuch", "busybox")
    assert (code, out, err) == (1, "Untagged: busybox:latest\n", "Error: No such image: nosuch\n")
    code, out, err, _ = run(svc, "rmi", "-f", "nosuch")  # forced: a missing image is no failure
    assert (code, out, err) == (0, "", "Error: No such image: nosuch\n")
    users.uses = [ImageUse("a" * 64, rec.id, running=True)]
    code, out, err, _ = run(svc, "rmi", "-f", rec.short_id, "nosuch")
    assert code == 1 and err == (f"Error response from daemon: conflict: unable to delete {rec.short_id} (cannot be "
                                 f"forced) - image is being used by running container {'a' * 12}\n"
                                 "Error: No such image: nosuch\n")  # fmt: skip
    code, _, err, _ = run(svc, "rmi")
    assert code == 1 and err.startswith('"dockernb rmi" requires at least 1 argument.')


def test_inspect_json_and_format(tmp_path: Path) -> None:
    svc = service(tmp_path)
    rec = add_record(svc, tags=["docker.io/library/busybox:latest"])
    code, out, err, _ = run(svc, "image", "inspect", "busybox")
    assert (code, err) == (0, "")
    doc: list[dict[str, Any]] = json.loads(out)
    assert out.startswith('[\n    {\n        "Id": "sha256:')
    assert doc[0]["Id"] == rec.id and doc[0]["RepoTags"] == ["busybox:latest"] and doc[0]["Config"]["Cmd"] == ["sh"]
    assert doc[0]["RootFS"] == {"Type": "layers", "Layers": rec.diff_ids}
    assert doc[0]["Metadata"] == {"LastTagTime": "0001-01-01T00:00:00Z"} and doc[0]["Size"] == 100
    assert run(svc, "image", "inspect", "-f", "{{.Id}} {{.Config.Cmd}}", "busybox")[1] == f"{rec.id} [sh]\n"
    assert run(svc, "image", "inspect", "nosuch")[:3] == (1, "[]\n", "Error: No such image: nosuch\n")
    assert run(svc, "inspect", "-f", "{{.Id}}", "nosuch")[:3] == (1, "\n", "Error: No such object: nosuch\n")
    assert run(svc, "inspect", "-f", "{{.Id}}", "busybox", "nosuch")[:3] == (
        1, f"{rec.id}\n", "Error: No such object: nosuch\n")
    assert run(svc, "inspect", "--type", "image", "nosuch")[2] == "Error: No such image: nosuch\n"
    assert run(svc, "inspect", "--type", "bogus", "x")[:3] == (1, "", '"bogus" is not a valid value for --type\n')


def test_history_columns(tmp_path: Path) -> None:
    svc = service(tmp_path)
    rec = add_record(svc, tags=["docker.io/library/app:1"], layers=2, created=datetime(1970, 1, 1, tzinfo=UTC))
    out = run(svc, "history", "app:1")[1].splitlines()
    assert out[0] == "IMAGE          CREATED        CREATED BY   SIZE      COMMENT"
    assert out[1].split() == [rec.short_id, "56", "years", "ago", "step", "1", "200B"]
    assert out[2].split() == ["<missing>", "56", "years", "ago", "step", "0", "100B"]
    out = run(svc, "history", "-H=false", "--no-trunc", "app:1")[1].splitlines()
    assert out[1].split()[:2] == [rec.id, "1970-01-01T00:00:00Z"] and out[1].split()[-1] == "200"
    assert run(svc, "history", "-q", "app:1")[1] == f"{rec.short_id}\n<missing>\n"
    assert run(svc, "history", "nosuch")[:3] == (1, "", "Error response from daemon: No such image: nosuch:latest\n")


def test_tag_and_errors(tmp_path: Path) -> None:
    svc = service(tmp_path)
    add_record(svc, tags=["docker.io/library/busybox:latest"])
    assert run(svc, "tag", "busybox", "golden-tag:1")[:3] == (0, "", "")
    assert run(svc, "tag", "nosuch", "x")[:3] == (1, "", "Error response from daemon: No such image: nosuch:latest\n")
    assert run(svc, "tag", "busybox", "Bad::Ref")[:3] == (1, "", 'Error parsing reference: "Bad::Ref" is not a valid '
                                                          "repository/tag: invalid reference format: repository name "
                                                          "must be lowercase\n")  # fmt: skip


def test_pull_output_and_save_load_roundtrip(tmp_path: Path) -> None:
    reg = MemoryRegistry(HOST)
    img = reg.add_image("library/app", "latest", [layer_tar("one"), layer_tar("two")])
    svc = service(tmp_path / "a", reg)
    code, out, err, _ = run(svc, "pull", f"{HOST}/library/app")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[:2] == ["Using default tag: latest", "latest: Pulling from library/app"]
    assert lines[-3:] == [f"Digest: {img.manifests[0]}",
                          f"Status: Downloaded newer image for {HOST}/library/app:latest", f"{HOST}/library/app:latest"]
    assert run(svc, "pull", "-q", f"{HOST}/library/app")[1] == f"{HOST}/library/app:latest\n"
    code, out, err, tar = run(svc, "save", f"{HOST}/library/app")
    assert (code, out, err) == (0, "", "")
    with tarfile.open(fileobj=io.BytesIO(tar)) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        assert manifest[0]["RepoTags"] == [f"{HOST}/library/app:latest"]
        assert manifest[0]["Config"] == img.configs[0][7:] + ".json" and len(manifest[0]["Layers"]) == 2
        repositories = json.load(tf.extractfile("repositories"))  # type: ignore[arg-type]
        assert list(repositories) == [f"{HOST}/library/app"]
    other = service(tmp_path / "b")
    code, out, err, _ = run(other, "load", "-q", stdin=tar)
    assert (code, out, err) == (0, f"Loaded image: {HOST}/library/app:latest\n", "")
    image = other.get(f"{HOST}/library/app")
    assert image.id == img.configs[0] and image.digests == ()  # docker load keeps no repo digests
    assert run(other, "save", "nosuch")[2] == "Error response from daemon: reference does not exist\n"
    assert run(other, "load", stdin=b"not a tar at all" * 100)[0] == 1


def test_import_with_changes(tmp_path: Path) -> None:
    svc = service(tmp_path)
    tar = layer_tar("root", compress="none")
    code, out, err, _ = run(svc, "import", "-c", "CMD [\"sh\"]", "-c", "ENV A=1", "-m", "hi", "-", "mine:1",
                            stdin=tar)  # fmt: skip
    assert (code, err) == (0, "") and out.startswith("sha256:")
    image = svc.get("mine:1")
    assert image.id == out.strip() and image.config.config.cmd == ("sh",) and "A=1" in image.config.config.env
    assert image.config.history[0].comment == "hi"
    assert run(svc, "import", "/nonexistent.tar")[:3] == (1, "", "open /nonexistent.tar: no such file or directory\n")


def test_progress_printer_tty_and_plain() -> None:
    plain = io.StringIO()
    p = ProgressPrinter(plain, tty=False)
    for m in (ProgressMessage(status="Pulling from library/app", id="latest"),
              ProgressMessage(status="Pulling fs layer", id="abc"),
              ProgressMessage(status="Downloading", id="abc", current=10, total=100),
              ProgressMessage(status="Verifying Checksum", id="abc"),
              ProgressMessage(status="Download complete", id="abc"),
              ProgressMessage(status="Pull complete", id="abc"),
              ProgressMessage(status="Digest: sha256:x")):  # fmt: skip
        p.write(m)
    assert plain.getvalue() == ("latest: Pulling from library/app\nabc: Pulling fs layer\nabc: Download complete\n"
                                "abc: Pull complete\nDigest: sha256:x\n")  # fmt: skip
    tty = io.StringIO()
    p = ProgressPrinter(tty, tty=True, width=120)
    p.write(ProgressMessage(status="Pulling fs layer", id="abc"))
    p.write(ProgressMessage(status="Pulling fs layer", id="def"))
    p.write(ProgressMessage(status="Downloading", id="abc", current=50, total=100))
    text = tty.getvalue()
    assert text.startswith("\n\x1b[1A\x1b[2K\rabc: Pulling fs layer\r\x1b[1B\n\x1b[1A\x1b[2K\rdef: Pulling fs layer")
    assert "\x1b[2A\x1b[2K\rabc: Downloading [" + "=" * 25 + ">" + " " * 25 + "]      50B/100B" in text
    assert progress_bar(0, 0, 120, 0, 1) == "" and progress_bar(5, 0, 120, 0, 1) == "      5B"
