"""COPY, ADD, WORKDIR, RUN details and the layer cache, built for real and checked inside the images.

Each test builds with ``dockernb build`` on its own root (root and rootless) and reads the result
back with ``dockernb run`` / ``inspect``: docker's destination rules, owners and modes, globs,
archives, downloads, heredocs, SHELL/USER/ENV in RUN, the cache's invalidation rules, layers
that do not depend on when they were built, and no path of an image leading out of it.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import lzma
import os
import re
import tarfile
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.builds.conftest import BuildCli, write_context

pytestmark = pytest.mark.rootless


def _tar(entries: dict[str, bytes | str], compress: str = "") -> bytes:
    """A tar with files (bytes) and symlinks (str targets)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.mtime = 1_600_000_000
            info.uid = info.gid = 1000
            if isinstance(data, str):
                info.type, info.linkname = tarfile.SYMTYPE, data
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o640
                tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    if compress == "gz":
        return gzip.compress(raw, mtime=0)
    if compress == "xz":
        return lzma.compress(raw)
    return raw


@pytest.fixture
def http_files() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A tiny HTTP server on 127.0.0.1 serving ``files`` (ADD <url> runs on the engine's side)."""
    files: dict[str, bytes] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = files.get(self.path.lstrip("/"))
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()


def _build(bcli: BuildCli, ctx: Path, *args: str) -> str:
    code, out, err = bcli.in_dir(ctx, "build", *args, ".")
    assert code == 0, f"build failed ({code}):\n{out}\n{err}"
    return out


def _sh(bcli: BuildCli, image: str, script: str) -> str:
    return bcli.ok("run", "--rm", image, "sh", "-c", script)


def test_copy_and_add_rules(bcli: BuildCli, tmp_path: Path, http_files: tuple[str, dict[str, bytes]]) -> None:
    base_url, served = http_files
    served["remote.txt"] = b"fetched over http\n"
    digest = "sha256:" + hashlib.sha256(served["remote.txt"]).hexdigest()
    ctx = write_context(tmp_path / "ctx", {
        "one.txt": "one\n", "two.txt": "two\n", "notes.md": "md\n", "tree/a": "a\n", "tree/sub/b": "b\n",
        "exec.sh": "#!/bin/sh\necho run\n",
    })  # fmt: skip
    (ctx / "exec.sh").chmod(0o755)
    os.utime(ctx / "one.txt", (1_500_000_000, 1_500_000_000))
    (ctx / "tree" / "link").symlink_to("sub/b")
    (ctx / "arch.tar.gz").write_bytes(_tar({"x/y.txt": b"from a tarball\n", "x/l": "y.txt"}, "gz"))
    (ctx / "arch.tar.xz").write_bytes(_tar({"z.txt": b"from xz\n"}, "xz"))
    (ctx / "plain.gz").write_bytes(gzip.compress(b"not a tar\n"))
    (ctx / "Dockerfile").write_text(f"""FROM debian:bookworm
ENV DEST=/opt/dst
COPY *.txt $DEST/
COPY one.txt /renamed.txt
COPY tree /tree-contents
COPY tree/ /usr/local/share/
COPY --chown=www-data --chmod=600 two.txt /owned/
COPY --chown=1234:5678 exec.sh /bin/
ADD arch.tar.gz /unpacked/
ADD arch.tar.xz plain.gz /more/
ADD --checksum={digest} {base_url}/remote.txt /dl/
COPY <<EOF /inline.txt
inline $DEST
EOF
WORKDIR rel/dir
RUN pwd > /pwd.txt
""")
    _build(bcli, ctx, "-t", "rules")
    out = _sh(bcli, "rules", "cd / && ls /opt/dst; cat /renamed.txt; ls -A /tree-contents; ls /tree-contents/sub;"
                             " readlink /tree-contents/link; ls /usr/local/share/sub; stat -c '%U:%G %a %n'"
                             " /owned/two.txt /owned /renamed.txt /tree-contents;"
                             " stat -c '%u:%g %a %n' /usr/bin/exec.sh;"
                             " test -L /bin && echo bin-is-a-link; cat /unpacked/x/y.txt; readlink /unpacked/x/l;"
                             " stat -c '%u:%g %a' /unpacked/x/y.txt; cat /more/z.txt; zcat /more/plain.gz;"
                             " stat -c '%a' /dl/remote.txt; cat /dl/remote.txt /inline.txt /pwd.txt;"
                             " stat -c '%Y' /renamed.txt /opt/dst/one.txt")
    assert out.splitlines() == [
        "one.txt", "two.txt",  # globs: only the matches, into the directory
        "one",  # a file to a path that is not a directory: renamed
        "a", "link", "sub", "b",  # a directory's contents, not the directory itself
        "sub/b",  # symlinks copied as they are
        "b",  # contents merged into an existing directory
        "www-data:www-data 600 /owned/two.txt",  # a lone user names the group too
        "www-data:www-data 755 /owned",  # a directory made for the copy: 0755, --chown's
        "root:root 644 /renamed.txt",
        "root:root 755 /tree-contents",
        "1234:5678 755 /usr/bin/exec.sh",  # /bin is a symlink in the image: followed inside it
        "bin-is-a-link",  # and it stays one
        "from a tarball", "y.txt", "1000:1000 640",  # archives unpacked with their owners
        "from xz", "not a tar",  # a compressed file that is not a tar is copied as it is
        "600", "fetched over http", "inline /opt/dst", "/rel/dir",
        "1500000000", "1500000000",  # context files keep their mtime
    ]


def test_owner_of_made_directories_follows_chown(bcli: BuildCli, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ctx", {"f": "f\n", "d/g": "g\n"})
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY --chown=65534:65534 f /new/deeper/f\n"
                                    "COPY --chown=nobody:nogroup d /made/\nCOPY --chmod=0750 d /modes/\n")
    _build(bcli, ctx, "-t", "owners")
    out = _sh(bcli, "owners", "stat -c '%u:%g %a %n' /new /new/deeper /new/deeper/f /made /made/g /modes /modes/g")
    assert out.splitlines() == ["65534:65534 755 /new", "65534:65534 755 /new/deeper", "65534:65534 644 /new/deeper/f",
                                "65534:65534 755 /made", "65534:65534 644 /made/g", "0:0 755 /modes",
                                "0:0 750 /modes/g"]  # fmt: skip
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY --chown=nosuch f /x\n")
    code, out, err = bcli.in_dir(ctx, "build", ".")
    assert code == 1 and err == ("unable to convert uid/gid chown string to host mapping: can't find uid for user "
                                 "nosuch: no such user: nosuch\n")  # fmt: skip


def test_run_details(bcli: BuildCli, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": """FROM busybox
SHELL ["/bin/sh", "-ec"]
ARG WHO=world
ENV GREETING=hello
RUN echo "$GREETING $WHO" > /greeting; false || echo shell-ok > /shell
RUN <<EOF
echo heredoc > /heredoc
EOF
RUN <<EOF
#!/bin/sh
echo "script $0" > /script
EOF
USER nobody
RUN id -u > /tmp/uid
USER root
RUN ["/bin/sh", "-c", "echo exec-form > /exec"]
"""})
    out = _build(bcli, ctx, "-t", "runs", "--build-arg", "WHO=you")
    assert "Using cache" not in out
    assert _sh(bcli, "runs", "cat /greeting /shell /heredoc /script /tmp/uid /exec") == (
        "hello you\nshell-ok\nheredoc\nscript /dev/pipes/EOF\n65534\nexec-form\n")
    # the RUN layers hold what the commands wrote, not the mount points the runtime needed
    inspect = json.loads(bcli.ok("image", "inspect", "runs"))[0]
    assert len(inspect["RootFS"]["Layers"]) == 1 + 5
    history = bcli.ok("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "runs").splitlines()
    first_run = [h for h in history if "/greeting" in h]
    assert len(first_run) == 1 and first_run[0].startswith("|1 WHO=you /bin/sh -ec echo")
    assert first_run[0].endswith("|19B"), first_run  # "hello you\n" + "shell-ok\n": two files' bytes


def test_network_modes_and_no_network(bcli: BuildCli, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN ip -o link | grep -c . > /links; "
                                                          "cat /etc/hosts > /hosts; hostname > /name\n"})
    _build(bcli, ctx, "-t", "net-default")
    _build(bcli, ctx, "-t", "net-none", "--network", "none")
    assert _sh(bcli, "net-default", "cat /links") == "2\n"  # lo and the bridge's eth0
    assert _sh(bcli, "net-none", "cat /links") == "1\n"  # only lo
    name = _sh(bcli, "net-default", "cat /name").strip()
    assert re.fullmatch(r"[0-9a-f]{12}", name) and name in _sh(bcli, "net-default", "cat /hosts")


def test_cache_follows_content_and_dockerignore(bcli: BuildCli, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ctx", {
        ".dockerignore": "*.log\n!keep.log\nsrc/**/*.tmp\n",
        "a.txt": "a1\n", "b.txt": "b1\n", "keep.log": "kept\n", "drop.log": "dropped\n",
        "src/main.c": "int main;\n", "src/gen/x.tmp": "scratch\n",
        "Dockerfile": "FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /from-a\nCOPY b.txt /b.txt\n"
                      "COPY . /ctx/\nRUN ls -R /ctx > /listing\n",
    })  # fmt: skip

    def steps(out: str) -> list[bool]:
        """For each step after FROM: was it a cache hit?"""
        chunks = re.split(r"Step \d+/\d+ : ", out)[2:]
        return ["Using cache" in c for c in chunks]

    assert steps(_build(bcli, ctx, "-t", "cache")) == [False] * 5
    assert steps(_build(bcli, ctx, "-t", "cache")) == [True] * 5
    os.utime(ctx / "a.txt", (1, 1))  # a new mtime, the same content: docker's checksums ignore times
    (ctx / "drop.log").write_text("changed, but ignored\n")
    (ctx / "src" / "gen" / "x.tmp").write_text("changed, but ignored\n")
    assert steps(_build(bcli, ctx, "-t", "cache")) == [True] * 5
    (ctx / "b.txt").write_text("b2\n")  # this step and every one after it, nothing before
    assert steps(_build(bcli, ctx, "-t", "cache")) == [True, True, False, False, False]
    (ctx / "keep.log").write_text("kept, changed\n")  # re-included by the exception
    assert steps(_build(bcli, ctx, "-t", "cache")) == [True, True, True, False, False]
    assert steps(_build(bcli, ctx, "-t", "cache", "--no-cache")) == [False] * 5
    listing = _sh(bcli, "cache", "cat /listing")
    assert "keep.log" in listing and "drop.log" not in listing and "x.tmp" not in listing and "main.c" in listing
    assert _sh(bcli, "cache", "cat /from-a /b.txt /ctx/keep.log") == "a1\nb2\nkept, changed\n"


def test_layers_do_not_depend_on_when_they_were_built(bcli: BuildCli, tmp_path: Path) -> None:
    ctx = write_context(tmp_path / "ctx", {"f.txt": "f\n", "d/g": "g\n", "Dockerfile": (
        "FROM debian:bookworm\nWORKDIR /app\nCOPY f.txt /app/\nCOPY d /app/d/\nCOPY <<EOF /etc/motd\nhi\nEOF\n"
        "ADD f.txt /usr/local/bin/\n")})  # fmt: skip
    _build(bcli, ctx, "-t", "det1")
    _build(bcli, ctx, "-t", "det2", "--no-cache")
    layers = [json.loads(bcli.ok("image", "inspect", "-f", "{{json .RootFS.Layers}}", t)) for t in ("det1", "det2")]
    assert layers[0] == layers[1] and len(layers[0]) == 1 + 5
    assert bcli.ok("image", "inspect", "-f", "{{.Id}}", "det1") != bcli.ok("image", "inspect", "-f", "{{.Id}}", "det2")


def test_no_image_path_leads_out_of_the_image(bcli: BuildCli, tmp_path: Path) -> None:
    outside = Path("/tmp") / f"dockernb-escape-{uuid.uuid4().hex[:8]}"
    ctx = write_context(tmp_path / "ctx", {"f": "payload\n"})
    (ctx / "evil.tar").write_bytes(_tar({f"../../../../../../../..{outside}/evil": b"x"}))
    (ctx / "Dockerfile").write_text(
        f"FROM busybox\nRUN ln -s /../../../../../../{outside} /abs && ln -s ../../../../../../..{outside} /rel\n"
        "COPY f /abs/\nCOPY f /rel/g\nWORKDIR /abs/w\n")
    _build(bcli, ctx, "-t", "escape")
    assert not outside.exists()
    assert _sh(bcli, "escape", f"ls {outside}") == "f\ng\nw\n"  # inside the image, where its links lead
    (ctx / "Dockerfile").write_text("FROM busybox\nADD evil.tar /x/\n")
    code, out, err = bcli.in_dir(ctx, "build", ".")
    assert code == 1 and "evil" in err and not outside.exists()


def test_cli_flags_and_a_context_on_stdin(bcli: BuildCli, tmp_path: Path) -> None:
    """``-`` (a tar context on stdin), ``-f`` inside it, several ``-t``, ``--label``, ``--iidfile``, ``-q``, ``--pull``
    and ``# syntax=`` with the real executor."""
    dockerfile = "# syntax=docker/dockerfile:1\nFROM busybox\nARG WHO=nobody\nCOPY hi.txt /\nRUN echo $WHO >> /hi.txt\n"
    context = _tar({"build/Dockerfile.web": dockerfile.encode(), "hi.txt": b"hi\n"})
    iid = tmp_path / "iid"
    code, out, err = bcli.in_dir(tmp_path, "build", "-q", "--pull", "-f", "build/Dockerfile.web", "-t", "one",
                                 "-t", "two:v2", "--label", "lab=yes", "--iidfile", str(iid),
                                 "--build-arg", "WHO=stdin", "-", input=context)  # fmt: skip
    assert code == 0, out + err
    image_id = iid.read_text()
    assert out == image_id + "\n" and re.fullmatch(r"sha256:[0-9a-f]{64}", image_id)
    for name in ("one", "two:v2"):
        assert bcli.ok("image", "inspect", "-f", "{{.Id}} {{.Config.Labels.lab}}", name) == f"{image_id} yes\n"
    assert _sh(bcli, "one", "cat /hi.txt") == "hi\nstdin\n"
