"""Step rules: plans and step counts, docker's records, Go formatting docker's output relies on."""

from __future__ import annotations

import pytest

from dockernb.build.gosyntax import DurationError, clean_path, parse_duration, quote, quote_list
from dockernb.build.image import ImageDoc, RunConfig, format_created, image_id_of
from dockernb.build.parse import parse_dockerfile
from dockernb.build.plan import (
    changes_filesystem,
    go_duration,
    normalize_dest,
    normalize_tag,
    normalize_workdir,
    parse_ports,
    plan_build,
    validate_signal,
)
from dockernb.errors import DockerfileParseError, InvalidArgument, InvalidReference
from tests import golden

# build code must run unprivileged on Debian's Python 3.11.2: these run in the rootless pass too
pytestmark = pytest.mark.rootless

DF = "ARG A\nFROM a AS one\nRUN x\nFROM b AS two\nCOPY --from=one / /\nENV X=1\nFROM c\n"


def test_plan_counts_and_targets() -> None:
    df = parse_dockerfile(DF)
    assert plan_build(df).total_steps == 1 + 2 + 3 + 1
    plan = plan_build(df, target="two", labels={"k": "v"})
    assert [s.name for s in plan.stages] == ["one", "two"]
    assert plan.total_steps == 1 + 2 + (3 + 1)  # meta ARG, stage one, stage two with the label step
    assert plan.stages[-1].commands[-1].text == "LABEL k=v"
    with pytest.raises(DockerfileParseError, match="line 2: one stage name already used"):
        plan_build(parse_dockerfile("FROM a AS one\nFROM b AS one\n"))


def test_filesystem_steps() -> None:
    kinds = [
        changes_filesystem(c)
        for c in parse_dockerfile("FROM a\nRUN x\nCOPY a b\nADD a b\nWORKDIR /w\nENV A=1\nCMD x\nUSER u\n")
        .stages[0]
        .commands
    ]
    assert kinds == [True, True, True, True, False, False, False]


def test_paths() -> None:
    assert normalize_workdir("", "app") == "/app"
    assert normalize_workdir("/a", "../b/./c") == "/b/c"
    assert normalize_workdir("/a", "/abs/") == "/abs/"  # absolute WORKDIRs are kept as written
    with pytest.raises(InvalidArgument):
        normalize_workdir("/", "")
    assert normalize_dest("/app", "rel/") == "/app/rel/"
    assert normalize_dest("", "x") == "/x" and normalize_dest("/w", "/abs") == "/abs"


def test_ports_and_signals() -> None:
    assert parse_ports(["80", "53/UDP", "8000-8002/tcp"]) == ["80/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp"]
    for bad, msg in (("x", "Invalid containerPort: x"), ("80/foo", "Invalid proto: foo")):
        with pytest.raises(InvalidArgument, match=msg):
            parse_ports([bad])
    for ok in ("SIGTERM", "term", "9", "SIGRTMIN+3", "KILL"):
        validate_signal(ok)
    for bad in ("SIGNOPE", "0"):
        with pytest.raises(InvalidArgument, match=f"^Invalid signal: {bad}$"):
            validate_signal(bad)


def test_tags() -> None:
    assert normalize_tag("web") == ("docker.io/library/web:latest", "web:latest")
    assert normalize_tag("me/web:1") == ("docker.io/me/web:1", "me/web:1")
    assert normalize_tag("127.0.0.1:5000/x") == ("127.0.0.1:5000/x:latest", "127.0.0.1:5000/x:latest")
    with pytest.raises(InvalidReference, match="^invalid reference format: repository name must be lowercase$"):
        normalize_tag("Bad::Ref")


def test_go_formatting() -> None:
    assert quote('a "b"\\\n\x01é') == '"a \\"b\\"\\\\\\n\\x01é"'
    assert quote_list(["cat", "/hello.txt"]) == '["cat" "/hello.txt"]' and quote_list(None) == "[]"
    assert [go_duration(n) for n in (0, 1_500_000_000, 90_000_000_000, 300_000_000, 3_723_000_000_000)] == [
        "0s",
        "1.5s",
        "1m30s",
        "300ms",
        "1h2m3s",
    ]
    assert [clean_path(p) for p in ("", "a//b/", "/../x", "a/../..", "./a/./b")] == [".", "a/b", "/x", "..", "a/b"]
    assert parse_duration("1h2m3.5s") == 3_723_500_000_000 and parse_duration("-2ms") == -2_000_000
    for bad, msg in (("", "invalid duration"), ("5", "missing unit"), ("5y", 'unknown unit "y"'), (".s", "invalid")):
        with pytest.raises(DurationError, match=msg):
            parse_duration(bad)


def test_image_doc_round_trip_keeps_unknown_keys() -> None:
    raw = (
        b'{"architecture":"arm64","variant":"v8","config":{"Env":["A=1"],"Cmd":["sh"],"Custom":1},'
        b'"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created":"x","created_by":"y"}],'
        b'"os":"linux","moby.extra":true}'
    )
    doc = ImageDoc.from_bytes(raw)
    assert (doc.architecture, doc.variant, doc.diff_ids, doc.config.env) == ("arm64", "v8", ["sha256:aa"], ["A=1"])
    again = ImageDoc.from_bytes(doc.to_bytes())
    assert again.to_json() == doc.to_json() and again.extra == {"moby.extra": True}
    assert again.config.extra == {"Custom": 1}
    assert list(doc.to_json()) == sorted(doc.to_json())
    assert image_id_of(b"{}") == "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"


def test_run_config_env_and_created() -> None:
    c = RunConfig(env=["PATH=/bin", "A=1"])
    c.set_env("A", "2")
    c.set_env("B", "3")
    assert c.env == ["PATH=/bin", "A=2", "B=3"] and c.get_shell() == ["/bin/sh", "-c"]
    from datetime import UTC, datetime

    assert format_created(datetime(2024, 1, 2, 3, 4, 5, 120000, tzinfo=UTC)) == "2024-01-02T03:04:05.12Z"
    assert format_created(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2024-01-02T03:04:05Z"


def test_commit_changes_like_golden() -> None:
    from dockernb.build.apply import apply_changes
    from dockernb.errors import InvalidChange

    case = golden.expected("commit-with-change")
    change = case["argv"][case["argv"].index("-c") + 1]
    base = RunConfig(env=["PATH=/bin", "HOME=/root"], cmd=["sh"])
    new = apply_changes(base, [change, 'ENV GREETING="hi from $HOME"', "WORKDIR app", "EXPOSE 80", "USER nobody"])
    assert new.cmd == ["cat", "/tmp/new.txt"] and base.cmd == ["sh"]  # the original is untouched
    assert new.env_map()["GREETING"] == "hi from /root"
    assert (new.working_dir, new.exposed_ports, new.user) == ("/app", {"80/tcp": {}}, "nobody")
    assert apply_changes(base, []) == base
    with pytest.raises(InvalidChange, match="^run is not a valid change command$"):
        apply_changes(base, ["RUN rm -rf /"])
