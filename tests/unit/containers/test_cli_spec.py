"""run/create flags -> ContainerConfig + HostConfig, with docker's client-side checks (no engine involved)."""

from __future__ import annotations

import pytest

from dockernb.errors import InvalidMountSpec
from dockernb.present.args import UsageError, parse
from dockernb.present.containerspec import ClientError, request_from_args
from dockernb.spec.container import RestartPolicyName


def req(*argv: str, detach: bool = False, environ: dict[str, str] | None = None):  # noqa: ANN201
    return request_from_args(parse("run", list(argv)), detach=detach, environ=environ or {})


def test_flags_end_at_the_image() -> None:
    ns = parse("run", ["--rm", "-e", "A=1", "busybox", "sh", "-c", "ls -l", "-v", "--name", "x"])
    assert ns.args == ["busybox", "sh", "-c", "ls -l", "-v", "--name", "x"]
    assert ns.rm and ns.env == ["A=1"] and ns.name == "" and ns.volume == []
    ns = parse("exec", ["-it", "c1", "sh", "-c", "echo -n hi"])
    assert (ns.tty, ns.interactive, ns.args) == (True, True, ["c1", "sh", "-c", "echo -n hi"])
    assert parse("run", ["-p8080:80", "-dit", "busybox"]).publish == ["8080:80"]
    assert parse("run", ["-h", "box", "busybox"]).hostname == "box"  # -h is --hostname, not help


def test_config_and_host_config() -> None:
    r = req("--name", "web", "-e", "A=1", "-e", "FROM_HOST", "-e", "UNSET", "-l", "k=v", "-l", "flag", "-w", "/app",
            "-u", "1000:1000", "--entrypoint", "", "-p", "127.0.0.1:8080:80", "-p", "81/udp", "--expose", "90-91",
            "-v", "/h:/c:ro", "-v", "data:/d", "-v", "/anon", "--tmpfs", "/t:size=1m", "--restart", "on-failure:3",
            "-m", "512m", "--cpus", "1.5", "--pids-limit", "10", "--ulimit", "nofile=10:20", "--cap-add", "NET_ADMIN",
            "--network", "labnet", "--dns", "1.1.1.1", "--add-host", "db:10.0.0.2", "--init", "--read-only",
            "busybox", "sh", environ={"FROM_HOST": "x"})
    c, h = r.config, r.host_config
    assert (r.name, c.image, c.cmd, c.entrypoint) == ("web", "busybox", ("sh",), ())
    assert c.env == ("A=1", "FROM_HOST=x") and c.labels == {"k": "v", "flag": ""}
    assert (c.working_dir, c.user, c.exposed_ports) == ("/app", "1000:1000", ("90/tcp", "91/tcp"))
    assert [(b.container_port, b.protocol, b.host_ip, b.host_port) for b in h.port_bindings] == [
        (80, "tcp", "127.0.0.1", "8080"), (81, "udp", "", "")]
    assert [(m.type, m.source, m.target, m.read_only, m.anonymous) for m in h.mounts] == [
        ("bind", "/h", "/c", True, False), ("volume", "data", "/d", False, False), ("volume", "", "/anon", False, True),
        ("tmpfs", "", "/t", False, False)]
    assert h.restart_policy.name is RestartPolicyName.ON_FAILURE and h.restart_policy.maximum_retry_count == 3
    assert (h.resources.memory, h.resources.nano_cpus, h.resources.pids_limit) == (512 << 20, 1_500_000_000, 10)
    assert [(u.name, u.soft, u.hard) for u in h.resources.ulimits] == [("nofile", 10, 20)]
    assert (h.network_mode, h.dns, h.extra_hosts, h.init, h.read_only) == ("labnet", ("1.1.1.1",), ("db:10.0.0.2",),
                                                                           True, True)
    assert c.attach_stdout and c.attach_stderr and not c.attach_stdin and not c.stdin_once


def test_attach_and_stdin() -> None:
    r = req("-i", "busybox", "cat")
    assert r.config.open_stdin and r.config.attach_stdin and r.config.stdin_once
    r = req("-i", "busybox", "cat", detach=True)
    assert r.config.open_stdin and not r.config.attach_stdin and not r.config.stdin_once


def test_client_errors() -> None:
    with pytest.raises(ClientError, match="^Conflicting options: --restart and --rm$"):
        req("--rm", "--restart", "always", "busybox")
    with pytest.raises(ClientError, match="^Invalid hostPort: 99999$"):
        req("-p", "99999:80", "busybox")
    with pytest.raises(ClientError, match="^Invalid containerPort: 99999$"):
        req("-p", "80:99999", "busybox")
    with pytest.raises(InvalidMountSpec, match="invalid volume specification: 'a:b:c:d'"):
        req("-v", "a:b:c:d", "busybox")
    with pytest.raises(ClientError, match="--mount"):
        req("--mount", "type=bind,target=/x,bogus=1", "busybox")
    with pytest.raises(ClientError, match="^open /no/such/env: no such file or directory$"):
        req("--env-file", "/no/such/env", "busybox")


@pytest.mark.parametrize(("argv", "message"), [
    (["-m", "12q"], "invalid argument \"12q\" for \"-m, --memory\" flag: invalid size: '12q'"),
    (["--ulimit", "nofile=10:5"], 'invalid argument "nofile=10:5" for "--ulimit" flag: ulimit soft limit must be less '
                                  "than or equal to hard limit: 10 > 5"),
    (["--cpus", "x"], 'invalid argument "x" for "--cpus" flag: failed to parse x as a rational number'),
    (["--stop-timeout", "x"], 'invalid argument "x" for "--stop-timeout" flag: strconv.ParseInt: parsing "x": invalid '
                              "syntax"),
])
def test_flag_errors_are_pflags(argv: list[str], message: str) -> None:
    with pytest.raises(UsageError) as err:
        parse("run", [*argv, "busybox"])
    assert err.value.exit_code == 125
    assert err.value.message == f"{message}\nSee 'dockernb run --help'."


def test_env_file(tmp_path) -> None:  # noqa: ANN001
    f = tmp_path / "env"
    f.write_text("# comment\n\nA=1\nB\n  C=3\n")
    assert req("--env-file", str(f), "-e", "A=2", "busybox", environ={"B": "b"}).config.env == ("A=1", "B=b", "C=3",
                                                                                                 "A=2")
