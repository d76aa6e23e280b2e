"""Grammar of the container verbs and their ``container ...`` spellings (layer L7).

docker 20.10's flags, defaults and flag errors (pflag's ``invalid argument "12q" for "-m, --memory"
flag: ...``, exit 125). ``run``, ``create`` and ``exec`` stop reading flags at the first positional
argument (cobra's ``SetInterspersed(false)``): what follows the image is the command. ``ps -n`` is
an integer flag; ``logs --tail`` a string (``all`` or a number, see present.logs.tail_arg);
``--since``/``--until`` are checked by the runner (docker's CLI does it there too, exit 1).
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from typing import Any

from dockernb.present.args import DockerParser, UsageError, Verb

_PS_USAGE, _PS_SUMMARY = "[OPTIONS]", "List containers"
_LOGS_USAGE, _LOGS_SUMMARY = "[OPTIONS] CONTAINER", "Fetch the logs of a container"


def _both(usage: str, summary: str, lo: int, hi: int | None, name: str) -> dict[str, Verb]:
    """A verb and its ``container <verb>`` spelling."""
    return {name: Verb(name, f"{name} {usage}", summary, lo, hi),
            f"container {name}": Verb(f"container {name}", f"container {name} {usage}", summary, lo, hi)}


SPECS = {
    "ps": Verb("ps", "ps " + _PS_USAGE, _PS_SUMMARY, 0, 0),
    "container ls": Verb("container ls", "container ls " + _PS_USAGE, _PS_SUMMARY, 0, 0),
    "container ps": Verb("container ps", "container ps " + _PS_USAGE, _PS_SUMMARY, 0, 0),
    "container list": Verb("container list", "container list " + _PS_USAGE, _PS_SUMMARY, 0, 0),
    "logs": Verb("logs", "logs " + _LOGS_USAGE, _LOGS_SUMMARY, 1, 1),
    "container logs": Verb("container logs", "container logs " + _LOGS_USAGE, _LOGS_SUMMARY, 1, 1),
    **_both("[OPTIONS] IMAGE [COMMAND] [ARG...]", "Run a command in a new container", 1, None, "run"),
    **_both("[OPTIONS] IMAGE [COMMAND] [ARG...]", "Create a new container", 1, None, "create"),
    **_both("[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers", 1, None, "start"),
    **_both("[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers", 1, None, "stop"),
    **_both("[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers", 1, None, "restart"),
    **_both("[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers", 1, None, "kill"),
    **_both("CONTAINER [CONTAINER...]", "Block until one or more containers stop, then print their exit codes",
            1, None, "wait"),
    **_both("[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers", 1, None, "rm"),
    "container remove": Verb("container remove", "container rm [OPTIONS] CONTAINER [CONTAINER...]",
                             "Remove one or more containers", 1, None),
    "container inspect": Verb("container inspect", "container inspect [OPTIONS] CONTAINER [CONTAINER...]",
                              "Display detailed information on one or more containers", 1, None),
    **_both("[OPTIONS] CONTAINER COMMAND [ARG...]", "Run a command in a running container", 2, None, "exec"),
    **_both("[OPTIONS] CONTAINER", "Attach local standard input, output, and error streams to a running container",
            1, 1, "attach"),
    **_both("CONTAINER [PRIVATE_PORT[/PROTO]]", "List port mappings or a specific mapping for the container", 1, 2,
            "port"),
    **_both("CONTAINER NEW_NAME", "Rename a container", 2, 2, "rename"),
}  # fmt: skip

#: verbs whose flags end at the first positional argument (cobra's SetInterspersed(false))
NOT_INTERSPERSED = {"run", "container run", "create", "container create", "exec", "container exec"}


class _Checked(argparse.Action):
    """A flag value checked (and converted) like pflag does; a bad one is a usage error (exit 125).

    ``check(value) -> converted`` raises ValueError with pflag's reason. With ``append`` the
    values accumulate in a list.
    """

    def __init__(self, *args: Any, check: Callable[[str], object], flag_names: str, append: bool = False,
                 **kwargs: Any) -> None:  # fmt: skip
        self.check = check
        self.flag_names = flag_names
        self.append = append
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        value = str(values)
        try:
            result = self.check(value)
        except ValueError as err:
            prog = getattr(parser, "prog_name", "dockernb")
            verb = getattr(getattr(parser, "verb", None), "name", "run")
            raise UsageError(
                f'invalid argument "{value}" for "{self.flag_names}" flag: {err}\nSee \'{prog} {verb} --help\'.', 125
            ) from None
        if self.append:
            items = list(getattr(namespace, self.dest, None) or [])
            items.append(result)
            setattr(namespace, self.dest, items)
        else:
            setattr(namespace, self.dest, result)


def _int(value: str) -> int:
    try:
        return int(value, 10)
    except ValueError:
        raise ValueError(f'strconv.ParseInt: parsing "{value}": invalid syntax') from None


_RAM = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def ram_in_bytes(value: str) -> int:
    """go-units RAMInBytes (binary units): ``512m``, ``1g``, ``1024``."""
    m = _RAM.match(value)
    if not m:
        raise ValueError(f"invalid size: '{value}'")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "").lower()])


def _memory(value: str) -> int:
    return -1 if value == "-1" else ram_in_bytes(value)


def _cpus(value: str) -> int:
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"failed to parse {value} as a rational number") from None
    return int(round(number * 1e9))


def _ulimit(value: str) -> tuple[str, int, int]:
    name, eq, limits = value.partition("=")
    if not eq:
        raise ValueError(f"invalid ulimit argument: {value}")
    soft, _, hard = limits.partition(":")
    try:
        s = int(soft)
        h = int(hard) if hard else s
    except ValueError:
        raise ValueError(f"invalid ulimit argument: {value}") from None
    if name not in _RLIMITS:
        raise ValueError(f"invalid ulimit type: {name}")
    if s > h:
        raise ValueError(f"ulimit soft limit must be less than or equal to hard limit: {s} > {h}")
    return name, s, h


_RLIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss",
            "rtprio", "rttime", "sigpending", "stack")


def _add_host(value: str) -> str:
    name, sep, ip = value.partition(":")
    if not sep or not name or not ip:
        raise ValueError(f'bad format for add-host: "{value}"')
    return value


def _kv_label(value: str) -> str:
    return value


def _filter(value: str) -> tuple[str, str]:
    if "=" not in value:
        raise ValueError("bad format of filter (expected name=value)")
    name, _, val = value.partition("=")
    return name.strip().lower(), val.strip()


def _sysctl(value: str) -> str:
    if "=" not in value:
        raise ValueError(f"sysctl '{value}' is not whitelisted")
    return value


def _flag(p: DockerParser, *names: str, check: Callable[[str], object], append: bool = False, **kw: Any) -> None:
    dest = kw.pop("dest", None) or names[-1].lstrip("-").replace("-", "_")
    default = kw.pop("default", [] if append else None)
    p.add_argument(*names, dest=dest, action=_Checked, check=check, flag_names=", ".join(names), append=append,
                   default=default, **kw)  # fmt: skip


def _append(p: DockerParser, *names: str, **kw: Any) -> None:
    dest = kw.pop("dest", None) or names[-1].lstrip("-").replace("-", "_")
    p.add_argument(*names, dest=dest, action="append", default=[], **kw)


def _no_short_help(p: DockerParser) -> None:
    """docker's -h is --hostname here: help answers only to --help."""
    action = p._option_string_actions.pop("-h", None)
    if action is not None:
        action.option_strings = [o for o in action.option_strings if o != "-h"]


def _create_flags(p: DockerParser) -> None:
    """The flags run and create share (docker's container create options)."""
    _no_short_help(p)
    _append(p, "-a", "--attach", help="Attach to STDIN, STDOUT or STDERR")
    _flag(p, "--add-host", check=_add_host, append=True, help="Add a custom host-to-IP mapping (host:ip)")
    _append(p, "--cap-add", help="Add Linux capabilities")
    _append(p, "--cap-drop", help="Drop Linux capabilities")
    p.add_argument("--cidfile", default="", help="Write the container ID to the file")
    _flag(p, "-c", "--cpu-shares", check=_int, default=0, help="CPU shares (relative weight)")
    _flag(p, "--cpu-period", check=_int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) period")
    _flag(p, "--cpu-quota", check=_int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) quota")
    _flag(p, "--cpus", check=_cpus, default=0, help="Number of CPUs")
    p.add_argument("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    p.add_argument("--detach-keys", default=None, help="Override the key sequence for detaching a container")
    _append(p, "--dns", help="Set custom DNS servers")
    _append(p, "--dns-option", help="Set DNS options")
    _append(p, "--dns-search", help="Set custom DNS search domains")
    p.add_argument("--domainname", default="", help="Container NIS domain name")
    p.add_argument("--entrypoint", default=None, help="Overwrite the default ENTRYPOINT of the image")
    _append(p, "-e", "--env", help="Set environment variables")
    _append(p, "--env-file", help="Read in a file of environment variables")
    _append(p, "--expose", help="Expose a port or a range of ports")
    _append(p, "--group-add", help="Add additional groups to join")
    p.add_argument("-h", "--hostname", default="", help="Container host name")
    p.add_argument("--init", action="store_true", help="Run an init inside the container that forwards signals "
                   "and reaps processes")  # fmt: skip
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    _append(p, "-l", "--label", help="Set meta data on a container")
    _append(p, "--label-file", help="Read in a line delimited file of labels")
    p.add_argument("--log-driver", default="", help="Logging driver for the container")
    _append(p, "--log-opt", help="Log driver options")
    _flag(p, "-m", "--memory", check=_memory, default=0, help="Memory limit")
    _flag(p, "--memory-reservation", check=_memory, default=0, help="Memory soft limit")
    _flag(p, "--memory-swap", check=_memory, default=0, help="Swap limit equal to memory plus swap: '-1' to enable "
          "unlimited swap")  # fmt: skip
    _append(p, "--mount", help="Attach a filesystem mount to the container")
    p.add_argument("--name", default="", help="Assign a name to the container")
    p.add_argument("--network", "--net", dest="network", default="default", help="Connect a container to a network")
    _append(p, "--network-alias", "--net-alias", dest="network_alias", help="Add network-scoped alias for the "
            "container")  # fmt: skip
    p.add_argument("--no-healthcheck", action="store_true", help="Disable any container-specified HEALTHCHECK")
    _flag(p, "--oom-score-adj", check=_int, default=None, help="Tune host's OOM preferences (-1000 to 1000)")
    _flag(p, "--pids-limit", check=_int, default=0, help="Tune container pids limit (set -1 for unlimited)")
    p.add_argument("--platform", default="", help="Set platform if server is multi-platform capable")
    p.add_argument("--privileged", action="store_true", help="Give extended privileges to this container")
    _append(p, "-p", "--publish", help="Publish a container's port(s) to the host")
    p.add_argument("-P", "--publish-all", action="store_true", help="Publish all exposed ports to random ports")
    p.add_argument("--pull", default="missing", help='Pull image before running ("always"|"missing"|"never")')
    p.add_argument("--read-only", action="store_true", help="Mount the container's root filesystem as read only")
    p.add_argument("--restart", default="no", help="Restart policy to apply when a container exits")
    p.add_argument("--rm", action="store_true", help="Automatically remove the container when it exits")
    _append(p, "--security-opt", help="Security Options")
    _flag(p, "--shm-size", check=ram_in_bytes, default=0, help="Size of /dev/shm")
    p.add_argument("--stop-signal", default="", help="Signal to stop a container")
    _flag(p, "--stop-timeout", check=_int, default=None, help="Timeout (in seconds) to stop a container")
    _flag(p, "--sysctl", check=_sysctl, append=True, help="Sysctl options")
    _append(p, "--tmpfs", help="Mount a tmpfs directory")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    _flag(p, "--ulimit", check=_ulimit, append=True, help="Ulimit options")
    p.add_argument("-u", "--user", default=None, help="Username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("--userns", default="", help="User namespace to use")
    _append(p, "-v", "--volume", help="Bind mount a volume")
    p.add_argument("-w", "--workdir", default="", help="Working directory inside the container")
    p.add_argument("-q", "--quiet", action="store_true", help="Suppress the pull output")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _run(p: DockerParser) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="Run container in background and print container ID")
    p.add_argument("--sig-proxy", default="true", nargs="?", const="true",
                   help="Proxy received signals to the process")  # fmt: skip
    _create_flags(p)


def _start(p: DockerParser) -> None:
    p.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals")
    p.add_argument("--detach-keys", default=None, help="Override the key sequence for detaching a container")
    p.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _stop(p: DockerParser) -> None:
    _flag(p, "-t", "--time", check=_int, default=None, help="Seconds to wait for stop before killing it")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _kill(p: DockerParser) -> None:
    p.add_argument("-s", "--signal", default="KILL", help="Signal to send to the container")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _plain(p: DockerParser) -> None:
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _rm(p: DockerParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of a running container (uses "
                   "SIGKILL)")  # fmt: skip
    p.add_argument("-l", "--link", action="store_true", help="Remove the specified link")
    p.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes associated with the "
                   "container")  # fmt: skip
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _inspect(p: DockerParser) -> None:
    p.add_argument("-f", "--format", default="", help="Format the output using the given Go template")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.add_argument("--type", default="container", help=argparse.SUPPRESS)
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _exec(p: DockerParser) -> None:
    p.add_argument("-d", "--detach", action="store_true", help="Detached mode: run command in the background")
    p.add_argument("--detach-keys", default=None, help="Override the key sequence for detaching a container")
    _append(p, "-e", "--env", help="Set environment variables")
    _append(p, "--env-file", help="Read in a file of environment variables")
    p.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    p.add_argument("--privileged", action="store_true", help="Give extended privileges to the command")
    p.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    p.add_argument("-u", "--user", default=None, help="Username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("-w", "--workdir", default=None, help="Working directory inside the container")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _attach(p: DockerParser) -> None:
    p.add_argument("--detach-keys", default=None, help="Override the key sequence for detaching a container")
    p.add_argument("--no-stdin", action="store_true", help="Do not attach STDIN")
    p.add_argument("--sig-proxy", default="true", nargs="?", const="true",
                   help="Proxy all received signals to the process")  # fmt: skip
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


class _LastInt(argparse.Action):
    """An int flag that fails like pflag: ``invalid argument "x" for "-n, --last" flag: ...``."""

    def __init__(self, *args: Any, flag_names: str, **kwargs: Any) -> None:
        self.flag_names = flag_names
        super().__init__(*args, **kwargs)

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        value = str(values)
        try:
            number = int(value, 10)
        except ValueError:
            prog = getattr(parser, "prog_name", "dockernb")
            verb = getattr(getattr(parser, "verb", None), "name", "ps")
            raise UsageError(
                f'invalid argument "{value}" for "{self.flag_names}" flag: '
                f"strconv.ParseInt: parsing \"{value}\": invalid syntax\nSee '{prog} {verb} --help'.",
                125,
            ) from None
        setattr(namespace, self.dest, number)


def _ps(p: DockerParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    _flag(p, "-f", "--filter", check=_filter, append=True, dest="filters",
          help="Filter output based on conditions provided")  # fmt: skip
    p.add_argument("--format", default="", help="Pretty-print containers using a Go template")
    p.add_argument(
        "-n",
        "--last",
        action=_LastInt,
        flag_names="-n, --last",
        default=-1,
        help="Show n last created containers (includes all states)",
    )
    p.add_argument(
        "-l", "--latest", action="store_true", help="Show the latest created container (includes all states)"
    )
    p.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display container IDs")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _logs(p: DockerParser) -> None:
    p.add_argument("--details", action="store_true", help="Show extra details provided to logs")
    p.add_argument("-f", "--follow", action="store_true", help="Follow log output")
    p.add_argument(
        "--since",
        default="",
        help="Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)",
    )
    p.add_argument(
        "-n", "--tail", default="all", help='Number of lines to show from the end of the logs (default "all")'
    )
    p.add_argument("-t", "--timestamps", action="store_true", help="Show timestamps")
    p.add_argument(
        "--until",
        default="",
        help="Show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)",
    )
    p.add_argument("args", nargs="*", help=argparse.SUPPRESS)


def _spelled(names: Sequence[str], fn: Callable[[DockerParser], None]) -> dict[str, Callable[[DockerParser], None]]:
    out = {}
    for name in names:
        out[name] = fn
        out[f"container {name}"] = fn
    return out


ARGUMENTS: dict[str, Callable[[DockerParser], None]] = {
    "ps": _ps,
    "container ls": _ps,
    "container ps": _ps,
    "container list": _ps,
    "logs": _logs,
    "container logs": _logs,
    **_spelled(["run"], _run),
    **_spelled(["create"], _create_flags),
    **_spelled(["start"], _start),
    **_spelled(["stop", "restart"], _stop),
    **_spelled(["kill"], _kill),
    **_spelled(["wait", "port", "rename"], _plain),
    **_spelled(["rm"], _rm),
    "container remove": _rm,
    "container inspect": _inspect,
    **_spelled(["exec"], _exec),
    **_spelled(["attach"], _attach),
}
