"""-p/--expose parsing and the ps/port renderings, against docker 20.10 (../shared/golden)."""

from __future__ import annotations

import pytest

from dockernb.errors import InvalidPortSpec
from dockernb.present.ports import displayable_ports, port_lines
from dockernb.spec.ports import PortBinding, PortMapping, parse_expose, parse_port_spec, parse_port_specs
from tests import golden


def test_forms_docker_accepts() -> None:
    assert parse_port_spec("8089:80") == [PortMapping(80, "tcp", "", 8089, 8089)]
    assert parse_port_spec("127.0.0.1:18080:80") == [PortMapping(80, "tcp", "127.0.0.1", 18080, 18080)]
    assert parse_port_spec("80") == [PortMapping(80, "tcp", "", 0, 0)]
    assert parse_port_spec("18081:81/udp") == [PortMapping(81, "udp", "", 18081, 18081)]
    assert parse_port_spec("[::1]:8080:80") == [PortMapping(80, "tcp", "::1", 8080, 8080)]
    assert parse_port_spec("127.0.0.1::80") == [PortMapping(80, "tcp", "127.0.0.1", 0, 0)]
    assert parse_port_spec("8000-8002:80-82") == [PortMapping(80 + i, "tcp", "", 8000 + i, 8000 + i) for i in range(3)]
    # one container port, a host range: the range is where to pick the host port
    assert parse_port_spec("8000-8010:80") == [PortMapping(80, "tcp", "", 8000, 8010)]
    assert parse_port_spec("80/UDP") == [PortMapping(80, "udp", "", 0, 0)]
    assert len(parse_port_specs(["80", "81"])) == 2


def _golden_error(case: str) -> str:
    # docker prints "docker: <message>.\nSee 'docker run --help'." for these usage errors
    stderr = golden.expected(case)["stderr"]
    return stderr.split("\n", 1)[0].removeprefix("dockernb: ").removesuffix(".")


@pytest.mark.parametrize(("spec", "case"), [("99999:80", "run-invalid-port"),
                                           ("80:99999", "run-invalid-container-port")])
def test_golden_errors(spec: str, case: str) -> None:
    if not golden.available():
        pytest.fail("golden transcripts missing")
    with pytest.raises(InvalidPortSpec) as exc:
        parse_port_spec(spec)
    assert str(exc.value) == _golden_error(case)
    assert golden.expected(case)["exit_code"] == 125


@pytest.mark.parametrize(("spec", "message"), [
    ("80:8o", "Invalid containerPort: 8o"),
    ("1.2.3.999:80:80", "Invalid ip address: 1.2.3.999"),
    ("80-70:80", "Invalid hostPort: 80-70"),
    ("8000-8002:80-81", "Invalid ranges specified for container and host Ports: 80-81 and 8000-8002"),
    ("80/icmp", "Invalid proto: icmp"),
    ("8080:", "No port specified: 8080:<empty>"),
])
def test_errors_in_dockers_words(spec: str, message: str) -> None:
    with pytest.raises(InvalidPortSpec, match="^" + message.replace(".", r"\.") + "$"):
        parse_port_spec(spec)


def test_expose() -> None:
    assert parse_expose("80") == [(80, "tcp")]
    assert parse_expose("53/udp") == [(53, "udp")]
    assert parse_expose("8000-8002") == [(8000, "tcp"), (8001, "tcp"), (8002, "tcp")]
    with pytest.raises(InvalidPortSpec):
        parse_expose("80:80")


GOLDEN_BINDINGS = [
    PortBinding(80, "tcp", "127.0.0.1", 18080),
    PortBinding(81, "udp", "::", 18081),
    PortBinding(81, "udp", "0.0.0.0", 18081),
]


def test_ps_ports_column_matches_golden() -> None:
    expected = golden.expected("ps-format-ports")["stdout"].strip()
    assert displayable_ports(GOLDEN_BINDINGS) == expected
    assert displayable_ports([PortBinding(80, "tcp", "0.0.0.0", 8089), PortBinding(80, "tcp", "::", 8089)]) == (
        "0.0.0.0:8089->80/tcp, :::8089->80/tcp")


def test_ps_groups_unpublished_and_same_port() -> None:
    assert displayable_ports([], [(80, "tcp"), (81, "tcp"), (82, "tcp"), (53, "udp")]) == "53/udp, 80-82/tcp"
    # a published port equal on both sides is grouped docker's way
    assert displayable_ports([PortBinding(80, "tcp", "0.0.0.0", 80)], [(80, "tcp")]) == "0.0.0.0:80->80/tcp"


def test_port_lines_match_golden() -> None:
    assert "\n".join(port_lines(GOLDEN_BINDINGS)) + "\n" == golden.expected("port")["stdout"]
    assert "\n".join(port_lines(GOLDEN_BINDINGS, "80")) + "\n" == golden.expected("port-one")["stdout"]
    assert "\n".join(port_lines(GOLDEN_BINDINGS, "81/udp")) + "\n" == golden.expected("port-one-udp")["stdout"]
    assert port_lines(GOLDEN_BINDINGS, "82") == []  # the CLI then prints golden port-unpublished
    assert port_lines([]) == []  # golden port-none: no output


def test_binding_json_roundtrip() -> None:
    for b in GOLDEN_BINDINGS:
        assert PortBinding.from_json(b.to_json()) == b
