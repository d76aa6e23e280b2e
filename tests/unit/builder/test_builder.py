"""The whole build flow against a FakeExecutor: docker's output, the cache, image bookkeeping."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest

from dockernb.build.image import ImageDoc, RunConfig
from dockernb.spec.events import BuildCacheHit, BuildStep
from tests import golden
from tests.unit.builder.conftest import Harness

# build code must run unprivileged on Debian's Python 3.11.2: these run in the rootless pass too
pytestmark = pytest.mark.rootless


def golden_build(harness: Harness, case_id: str, name: str = "ctx", **opts: object) -> tuple[int, str, str]:
    case = golden.expected(case_id)
    root = harness.write(case["files"], name)
    argv = case["argv"][2:]
    dockerfile = argv[argv.index("-f") + 1] if "-f" in argv else None
    tags = tuple(argv[i + 1] for i, a in enumerate(argv) if a == "-t")
    build_args = {
        argv[i + 1].split("=")[0]: argv[i + 1].split("=")[1] for i, a in enumerate(argv) if a == "--build-arg"
    }
    return harness.build(root, dockerfile=dockerfile, tags=tags, build_args=build_args, quiet="-q" in argv, **opts)


def assert_golden(case_id: str, result: tuple[int, str, str]) -> None:
    case = golden.expected(case_id)
    code, out, err = result
    assert code == case["exit_code"]
    if "stdout_regex" in case:
        assert re.fullmatch(case["stdout_regex"], out), out
    else:
        assert out == case["stdout"]
    assert err == case["stderr"]


# --- golden transcripts -------------------------------------------------------------------------------


def test_golden_build_then_cached_rebuild(harness: Harness) -> None:
    assert_golden("build-classic-ok", golden_build(harness, "build-classic-ok"))
    assert_golden("build-classic-cached", golden_build(harness, "build-classic-ok"))
    assert_golden("build-classic-q", golden_build(harness, "build-classic-q"))


def test_golden_history_of_the_built_image(harness: Harness) -> None:
    golden_build(harness, "build-classic-ok")
    doc = harness.doc("golden-ok")
    ours = [h.created_by for h in doc.history[1:]][::-1]
    table = golden.expected("history-built")["stdout"].splitlines()[1:5]
    for mine, line in zip(ours, table, strict=True):
        shown = re.split(r" {2,}", line)[2]  # docker truncates CREATED BY to 45 characters with "…"
        assert mine.startswith(shown.rstrip("…")), (mine, shown)
    assert [h.empty_layer for h in doc.history[1:]] == [False, False, True, True]


def test_golden_failures(harness: Harness) -> None:
    assert_golden("build-classic-run-fails", golden_build(harness, "build-classic-run-fails", "f1"))
    assert_golden("build-classic-copy-missing", golden_build(harness, "build-classic-copy-missing", "f2"))
    harness.executor.registry.pop("busybox")
    case = golden.expected("build-classic-from-missing")
    code, out, err = golden_build(harness, "build-classic-from-missing", "f3")
    assert (code, err) == (case["exit_code"], case["stderr"])
    assert out == case["stdout"]


def test_golden_dockerignore(harness: Harness) -> None:
    case = golden.expected("build-classic-dockerignore")
    listing = case["stdout"].split("Running in", 1)[1].split("\n", 1)[1].split("Removing", 1)[0]
    harness.executor.scripts["ls -A /ctx"] = (0, listing)
    assert_golden("build-classic-dockerignore", golden_build(harness, "build-classic-dockerignore"))
    (copy,) = harness.executor.copies()
    (src,) = copy.sources
    assert copy.dest == "/ctx/" and src.is_dir
    assert list(src.members) == listing.split()  # what the fake printed is what would be copied
    assert_golden("build-classic-copy-ignored", golden_build(harness, "build-classic-copy-ignored"))


def test_golden_unused_build_arg(harness: Harness) -> None:
    assert_golden("build-classic-unused-build-arg", golden_build(harness, "build-classic-unused-build-arg"))


# --- image bookkeeping ----------------------------------------------------------------------------------


def test_config_history_and_diff_ids(harness: Harness) -> None:
    golden_build(harness, "build-classic-ok")
    doc = harness.doc("golden-ok")
    base = harness.executor.registry["busybox"]
    assert len(doc.diff_ids) == len(base.diff_ids) + 2  # RUN and COPY; ENV and CMD add no layer
    assert doc.diff_ids[: len(base.diff_ids)] == base.diff_ids
    assert [h.created_by for h in doc.history[1:]] == [
        "/bin/sh -c echo built > /built.txt",
        "/bin/sh -c #(nop) COPY file:7b16141e71ab6ad6c9604944f44d949243d70870ae987c06244c27815860ec78 in /hello.txt ",
        "/bin/sh -c #(nop)  ENV GREETING=hi",
        '/bin/sh -c #(nop)  CMD ["cat" "/hello.txt"]',
    ]
    assert doc.config.env == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hi"]
    assert doc.config.cmd == ["cat", "/hello.txt"]
    assert doc.container_config is not None
    assert doc.container_config.cmd == ["/bin/sh", "-c", "#(nop) ", 'CMD ["cat" "/hello.txt"]']
    assert doc.os == "linux" and doc.created == doc.history[-1].created
    # each step's config points at its parent, and every image is stored under the sha256 of its bytes
    parent = harness.executor.doc(doc.config.image)
    assert parent.history == doc.history[:-1]


def test_every_config_instruction(harness: Harness) -> None:
    root = harness.write(
        {
            "Dockerfile": (
                "FROM busybox\n"
                "MAINTAINER me\n"
                'SHELL ["/bin/bash", "-c"]\n'
                "CMD run me\n"
                'ENTRYPOINT ["/entry"]\n'
                'LABEL a=1 b="two words"\n'
                "EXPOSE 80 53/udp 8000-8001\n"
                "USER app\n"
                "VOLUME /data\n"
                "STOPSIGNAL SIGQUIT\n"
                "HEALTHCHECK --interval=5s --retries=3 CMD curl -f localhost\n"
                "ONBUILD RUN echo child\n"
                "ARG V=1\n"
                "ENV A=$V\n"
            )
        }
    )
    assert harness.build(root, tags=("t",))[0] == 0
    doc = harness.doc()
    c = doc.config
    assert c.cmd == ["/bin/bash", "-c", "run me"]  # ENTRYPOINT after CMD keeps CMD
    assert c.entrypoint == ["/entry"]
    assert c.labels == {"a": "1", "b": "two words"}
    assert set(c.exposed_ports or {}) == {"80/tcp", "53/udp", "8000/tcp", "8001/tcp"}
    assert (c.user, c.volumes, c.stop_signal, c.shell) == ("app", {"/data": {}}, "SIGQUIT", ["/bin/bash", "-c"])
    assert c.healthcheck == {"Test": ["CMD-SHELL", "curl -f localhost"], "Interval": 5_000_000_000, "Retries": 3}
    assert c.on_build == ["RUN echo child"]
    assert c.env_map()["A"] == "1"
    assert doc.author == "me" and all(h.empty_layer for h in doc.history[1:])
    by = [h.created_by.split("#(nop)  ", 1)[1] for h in doc.history[1:]]
    assert by == [
        "MAINTAINER me",
        "SHELL [/bin/bash -c]",
        'CMD ["/bin/bash" "-c" "run me"]',
        'ENTRYPOINT ["/entry"]',
        "LABEL a=1 b=two words",
        "EXPOSE 53/udp 80 8000-8001",
        "USER app",
        "VOLUME [/data]",
        "STOPSIGNAL SIGQUIT",
        'HEALTHCHECK &{["CMD-SHELL" "curl -f localhost"] "5s" "0s" "0s" \'\\x03\'}',
        "ONBUILD RUN echo child",
        "ARG V=1",
        "ENV A=1",
    ]
    # the recorded shell is the one in force after each step, as docker records it
    assert doc.history[1].created_by == "/bin/sh -c #(nop)  MAINTAINER me"
    assert doc.history[2].created_by == "/bin/bash -c #(nop)  SHELL [/bin/bash -c]"
    assert doc.history[-1].created_by == "/bin/bash -c #(nop)  ENV A=1"


def test_entrypoint_clears_inherited_cmd(harness: Harness) -> None:
    root = harness.write({"Dockerfile": 'FROM busybox\nENTRYPOINT ["top"]\n'})
    harness.build(root, tags=("t",))
    assert harness.doc().config.cmd is None  # the base's CMD ["sh"] would be an argument to top


def test_run_step_spec(harness: Harness) -> None:
    root = harness.write(
        {
            "Dockerfile": (
                "FROM busybox\nARG V=def\nENV E=1\nUSER nobody\nWORKDIR /w\nWORKDIR sub\n"
                'RUN echo "$V"\nRUN ["/bin/true", "x"]\nRUN --network=none echo off\n'
            )
        }
    )
    assert harness.build(root, tags=("t",), build_args={"V": "cli", "HTTP_PROXY": "http://p:3128"})[0] == 0
    shell_run, exec_run, offline = harness.executor.runs()
    assert shell_run.argv == ("/bin/sh", "-c", 'echo "$V"')
    assert shell_run.user == "nobody" and shell_run.workdir == "/w/sub" and shell_run.network == "default"
    assert "V=cli" in shell_run.env and "E=1" in shell_run.env and "HTTP_PROXY=http://p:3128" in shell_run.env
    assert exec_run.argv == ("/bin/true", "x")
    assert offline.network == "none"
    assert [p for _, p in harness.executor.calls if _ == "mkdir"] == ["/w", "/w/sub"]
    created_by = [h.created_by for h in harness.doc().history]
    # the declared arg is recorded; the proxy is not (docker keeps it out of history and cache)
    assert '|1 V=cli /bin/sh -c echo "$V"' in created_by
    assert not any("HTTP_PROXY" in c for c in created_by)


def test_run_heredocs(harness: Harness) -> None:
    root = harness.write(
        {
            "Dockerfile": (
                "FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\n"
                "RUN <<-EOT sh -x\n\techo three\n\tEOT\n"
                "RUN <<EOF\n#!/bin/sh\necho script\nEOF\n"
            )
        }
    )
    assert harness.build(root)[0] == 0
    simple, complex_, script = harness.executor.runs()
    assert simple.argv == ("/bin/sh", "-c", "echo one\necho two\n")
    assert complex_.argv == ("/bin/sh", "-c", "<<-EOT sh -x\n\techo three\nEOT")
    assert script.argv == ("/dev/pipes/EOF",) and script.files == {"/dev/pipes/EOF": b"#!/bin/sh\necho script\n"}


def test_copy_specs(harness: Harness) -> None:
    root = harness.write(
        {
            "Dockerfile": (
                "FROM busybox\nWORKDIR /app\n"
                "COPY --chown=1:2 --chmod=0640 a.txt b.txt ./\n"
                "COPY dir rel\n"
                "COPY <<EOF /etc/conf\nvalue=$X\nEOF\n"
                "ADD a.txt /added/\n"
            ),
            "a.txt": "a",
            "b.txt": "b",
            "dir/x": "x",
        }
    )
    assert harness.build(root, tags=("t",))[0] == 0
    two, directory, inline, add = harness.executor.copies()
    assert two.dest == "/app/" and (two.chown, two.chmod) == ("1:2", 0o640)
    assert [s.name for s in two.sources] == ["a.txt", "b.txt"]
    assert directory.dest == "/app/rel" and directory.sources[0].is_dir and directory.sources[0].members == ("x",)
    assert inline.sources[0].content == b"value=\n" and inline.sources[0].name == "EOF"
    assert add.sources[0].extract and not two.sources[0].extract
    assert "COPY --chmod=0640 --chown=1:2multi:" in harness.doc().history[-4].created_by


def test_copy_errors(harness: Harness) -> None:
    root = harness.write({"Dockerfile": "FROM busybox\nCOPY a b /notadir\n", "a": "", "b": ""})
    code, out, err = harness.build(root)
    assert code == 1
    assert (
        err == "When using COPY with more than one source file, the destination must be a directory and end with a /\n"
    )
    root = harness.write({"Dockerfile": "FROM busybox\nCOPY http://example.com/x /\n"}, "url")
    assert harness.build(root)[2] == "COPY failed: source can't be a URL for COPY\n"


def test_add_url_with_checksum(harness: Harness) -> None:
    fetched: list[str] = []

    def fetch(url: str, into: Path) -> str:
        fetched.append(url)
        into.write_bytes(b"remote")
        return "file.txt"

    harness.builder._fetch = fetch
    good = "sha256:" + hashlib.sha256(b"remote").hexdigest()
    root = harness.write({"Dockerfile": f"FROM busybox\nADD --checksum={good} http://h/p/file.txt /d/\n"})
    assert harness.build(root)[0] == 0
    (spec,) = harness.executor.copies()
    assert spec.sources[0].name == "file.txt" and not spec.sources[0].extract
    assert spec.sources[0].path is not None and not spec.sources[0].path.exists()  # the download is cleaned up
    assert fetched == ["http://h/p/file.txt"]
    bad = harness.write({"Dockerfile": "FROM busybox\nADD --checksum=sha256:" + "0" * 64 + " http://h/f /d/\n"}, "b")
    code, _, err = harness.build(bad)
    assert code == 1 and err.startswith("digest mismatch for http://h/f")
    assert not list(harness.tmp.glob("dockernb-add-*"))


def test_add_url_over_http(harness: Harness) -> None:
    """A real HTTP fetch from a local server (stdlib), streamed to disk."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            body = b"served\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/dir/served.txt"
        root = harness.write({"Dockerfile": f"FROM busybox\nADD {url} /srv/\n"})
        seen: list[bytes] = []
        real_copy = harness.executor.copy

        def copy(parent, spec):  # type: ignore[no-untyped-def]
            seen.append(spec.sources[0].path.read_bytes())
            return real_copy(parent, spec)

        harness.executor.copy = copy  # type: ignore[method-assign]
        assert harness.build(root)[0] == 0
        assert seen == [b"served\n"]
        assert "file:" in harness.executor.doc(harness.executor.calls[-1][1]).history[-1].created_by  # type: ignore[arg-type]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_step_errors_are_build_errors(harness: Harness) -> None:
    root = harness.write({"Dockerfile": "FROM busybox\nSTOPSIGNAL SIGNOPE\n"})
    code, out, err = harness.build(root)
    assert (code, err) == (1, "Invalid signal: SIGNOPE\n")
    assert out.endswith("Step 2/2 : STOPSIGNAL SIGNOPE\n")
    root = harness.write({"Dockerfile": "FROM busybox\nENV A=${B\n"}, "sub")
    assert harness.build(root)[2] == "failed to process \"${B\": syntax error: missing '}'\n"


def test_scratch_and_empty_result(harness: Harness) -> None:
    root = harness.write({"Dockerfile": "FROM scratch\n"})
    code, out, err = harness.build(root)
    assert code == 1 and " ---> \n" in out and err == "No image was generated. Is your Dockerfile empty?\n"
    root = harness.write({"Dockerfile": "FROM scratch\nCOPY f /\n", "f": "f"}, "s2")
    assert harness.build(root, tags=("t",))[0] == 0
    doc = harness.doc()
    assert len(doc.diff_ids) == 1 and doc.config.env == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    ]


# --- multi-stage, target, labels, triggers ------------------------------------------------------------


def test_multi_stage_copy_from_builder(harness: Harness) -> None:
    root = harness.write(
        {
            "Dockerfile": (
                "FROM busybox AS builder\nRUN cc -o /out/app main.c\n"
                "FROM busybox AS other\nRUN echo unrelated\n"
                "FROM busybox\nCOPY --from=builder /out/app /usr/bin/app\nCOPY --from=1 /x /y\n"
            )
        }
    )
    code, out, _ = harness.build(root, tags=("t",))
    assert code == 0 and "Step 7/7 : COPY --from=1 /x /y" in out
    from_builder, from_index = harness.executor.copies()
    runs = [c for c in harness.executor.calls if c[0] == "commit"]
    builder_image = runs[0][1]
    assert from_builder.from_image is not None and from_builder.from_image.image_id == builder_image
    assert from_builder.preserve_ownership and from_builder.sources[0].image_path == "/out/app"
    assert from_index.from_image is not None and from_index.from_image.image_id == runs[1][1]
    final = harness.doc()
    assert len(final.diff_ids) == 1 + 2  # the final stage carries only its own copies on busybox


def test_copy_from_current_stage_and_out_of_bounds(harness: Harness) -> None:
    root = harness.write({"Dockerfile": "FROM busybox\nCOPY --from=0 /a /b\n"})
    assert harness.build(root)[2] == "invalid from flag value 0: refers to current build stage\n"
    root = harness.write({"Dockerfile": "FROM busybox\nCOPY --from=5 /a /b\n"}, "oob")
    assert harness.build(root)[2] == "invalid from flag value 5: index out of bounds\n"


def test_from_an_earlier_stage_and_target(harness: Harness) -> None:
    root = harness.write(
        {"Dockerfile": "FROM busybox AS base\nENV B=1\nFROM base AS test\nRUN check\nFROM base\nENV F=1\n"}
    )
    code, out, _ = harness.build(root, tags=("t",), target="TEST")
    assert code == 0 and "Step 4/4 : RUN check" in out and "F=1" not in out
    assert harness.doc().config.env_map()["B"] == "1"
    from dockernb.errors import BuildTargetNotFound

    with pytest.raises(BuildTargetNotFound, match="^failed to reach build target nope in Dockerfile$"):
        harness.build(root, target="nope")


def test_labels_from_the_command_line(harness: Harness) -> None:
    root = harness.write({"Dockerfile": "FROM busybox AS a\nFROM busybox\nLABEL x=$NOT\n"})
    code, out, _ = harness.build(root, tags=("t",), labels={"b": "$literal", "a": "1"})
    assert code == 0
    assert "Step 4/5 : LABEL a=1\n" in out and "Step 5/5 : LABEL b=$literal\n" in out
    assert harness.doc().config.labels == {"x": "", "a": "1", "b": "$literal"}


def test_meta_args_and_from(harness: Harness) -> None:
    harness.executor.add_base("busybox:1.36")
    root = harness.write({"Dockerfile": "ARG TAG=latest\nFROM busybox:${TAG}\nARG TAG\nRUN echo $TAG\n"})
    code, out, _ = harness.build(root, build_args={"TAG": "1.36"})
    assert code == 0 and out.split("\n")[1:3] == ["Step 1/4 : ARG TAG=latest", "Step 2/4 : FROM busybox:${TAG}"]
    assert harness.executor.calls[0] == ("pull", ("busybox:1.36", "", False))
    assert "TAG=1.36" in harness.executor.runs()[0].env


def test_onbuild_triggers_run_in_the_child(harness: Harness) -> None:
    harness.executor.add_base("parent", ImageDoc(config=RunConfig(on_build=["RUN echo triggered", "ENV T=1"])))
    root = harness.write({"Dockerfile": "FROM parent\nRUN echo own\n"})
    code, out, _ = harness.build(root, tags=("t",))
    assert code == 0
    lines = out.split("\n")
    assert lines[1:3] == ["Step 1/2 : FROM parent", "# Executing 2 build triggers"]
    assert lines[3].startswith(" ---> Running in ") and lines[4].startswith("Removing intermediate container")
    assert [r.argv[-1] for r in harness.executor.runs()] == ["echo triggered", "echo own"]
    doc = harness.doc()
    assert doc.config.on_build is None and doc.config.env_map()["T"] == "1"


def test_pull_flag_and_platform(harness: Harness) -> None:
    root = harness.write({"Dockerfile": "FROM --platform=linux/arm64 busybox\n"})
    harness.build(root, pull=True)
    assert harness.executor.calls[0] == ("pull", ("busybox", "linux/arm64", True))


# --- the cache -------------------------------------------------------------------------------------------

FIVE_STEPS = "FROM busybox\nCOPY a.txt /\nRUN one\nCOPY b.txt /\nRUN two\n"


def hits(harness: Harness) -> list[int]:
    """Which steps came from the cache."""
    out, step = [], 0
    for e in harness.events:
        if isinstance(e, BuildStep):
            step = e.index
        elif isinstance(e, BuildCacheHit):
            out.append(step)
    return out


def test_changing_one_copied_file_invalidates_it_and_later_steps_only(harness: Harness) -> None:
    root = harness.write({"Dockerfile": FIVE_STEPS, "a.txt": "a", "b.txt": "b"})
    harness.build(root)
    assert hits(harness) == []
    harness.build(root)
    assert hits(harness) == [2, 3, 4, 5]
    (root / "b.txt").write_text("B")
    harness.build(root)
    assert hits(harness) == [2, 3]
    (root / "a.txt").write_text("A")
    harness.build(root)
    assert hits(harness) == []
    os.utime(root / "a.txt", (0, 0))  # mtime is not content
    harness.build(root)
    assert hits(harness) == [2, 3, 4, 5]
    (root / "a.txt").chmod(0o600)  # mode is
    harness.build(root)
    assert hits(harness) == []


def test_ignored_files_do_not_invalidate(harness: Harness) -> None:
    root = harness.write(
        {"Dockerfile": "FROM busybox\nCOPY . /src\n", ".dockerignore": "*.log\n", "a": "a", "x.log": "1"}
    )
    harness.build(root)
    (root / "x.log").write_text("2")
    harness.build(root)
    assert hits(harness) == [2]


def test_build_args_used_and_unused(harness: Harness) -> None:
    root = harness.write({"Dockerfile": "FROM busybox\nENV E=1\nARG V\nRUN use\nARG LATER\nRUN after\n"})
    harness.build(root, build_args={"V": "1"})
    harness.build(root, build_args={"V": "1", "OTHER": "x", "HTTP_PROXY": "http://p"})
    assert hits(harness) == [2, 3, 4, 5, 6]  # undeclared args and proxies change nothing
    harness.build(root, build_args={"V": "2"})
    assert hits(harness) == [2, 3]  # the RUN sees V: it and everything after rebuild
    harness.build(root, build_args={"V": "2", "LATER": "z"})
    assert hits(harness) == [2, 3, 4, 5]  # LATER is declared after the first RUN


def test_no_cache_builds_everything_and_feeds_the_cache(harness: Harness) -> None:
    root = harness.write({"Dockerfile": FIVE_STEPS, "a.txt": "a", "b.txt": "b"})
    harness.build(root)
    runs = harness.executor.count("run")
    harness.build(root, no_cache=True)
    assert hits(harness) == [] and harness.executor.count("run") == runs + 2
    harness.build(root)
    assert hits(harness) == [2, 3, 4, 5]


def test_cache_survives_a_new_builder_and_drops_removed_images(harness: Harness) -> None:
    from dockernb.build.builder import Builder

    root = harness.write({"Dockerfile": FIVE_STEPS, "a.txt": "a", "b.txt": "b"})
    harness.build(root, tags=("t",))
    harness.builder = Builder(harness.executor, cache=type(harness.cache)(harness.tmp / "cache"))  # a restart
    harness.build(root)
    assert hits(harness) == [2, 3, 4, 5]
    final = harness.image()
    harness.executor.forget_image(final)
    harness.build(root)
    assert hits(harness) == [2, 3, 4]
    assert len(list((harness.tmp / "cache").iterdir())) >= 4


def test_same_instruction_on_different_parents_is_not_shared(harness: Harness) -> None:
    harness.executor.add_base("alpine")
    one = harness.write({"Dockerfile": "FROM busybox\nRUN x\n"}, "one")
    two = harness.write({"Dockerfile": "FROM alpine\nRUN x\n"}, "two")
    harness.build(one)
    harness.build(two)
    assert hits(harness) == []
