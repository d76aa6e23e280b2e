"""`make demo`: every lab notebook executed headless, end to end, with a summary (top front-end layer).

``python -m dockernb.demo`` runs ``notebooks/NN-*.ipynb`` in order, each in a fresh IPython kernel
(nbclient) whose working directory is the notebook's, prints each cell's text output as it goes,
then a table (notebook, cells, seconds, result), and exits 1 when one failed. The Makefile sets up
the machine and the kit first. ``--lab`` starts JupyterLab on ``notebooks/`` instead (``make lab``).

Run headless, the runner is stricter than a person at the notebook: before the notebook's own cells
it wraps the ``%docker``/``%%docker``/``%%dockerfile`` magics so that a command ending with a
non-zero exit code fails its cell (interactively the magic prints docker's error line and moves on),
unless the cell says ``# expected to fail``. Executed notebooks are never written back: the
committed ones stay without outputs (``--save DIR`` keeps executed copies for reading).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

__all__ = ["NOTEBOOKS", "Result", "docker_kernel_version", "lab_notebooks", "main", "run_all", "run_notebook",
           "summary"]  # fmt: skip

#: the repository's notebooks/ (the labs)
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

#: the Docker kernel's name (dockernb.kernel): bash cells, ``docker`` runs in the kernel's engine
DOCKER_KERNEL = "dockernb"

#: a cell containing this comment may end with a failed docker command (a lab shows an error)
EXPECTED_FAILURE = "# expected to fail"

# Run first in each kernel, not shown: docker commands that fail raise (see the module docstring).
STRICT_PREAMBLE = f"""
def __dockernb_strict(ip):
    import functools

    # wraps the magics once the notebook has loaded them (its %load_ext cell), before each cell
    def wrap(kind, name):
        magics = ip.magics_manager.magics[kind]
        inner = magics.get(name)
        if inner is None or getattr(inner, "dockernb_strict", False):
            return

        @functools.wraps(inner)  # keeps the magic's attributes (no_var_expand: docker's {{...}} survive)
        def strict(*args, **kwargs):
            result = inner(*args, **kwargs)
            code = ip.user_ns.get("_exit_code", 0)
            raw = ip.history_manager.input_hist_raw
            if code and {EXPECTED_FAILURE!r} not in (raw[-1] if raw else ""):
                magic = ("%%" if kind == "cell" else "%") + name
                raise RuntimeError(f"{{magic}} {{args[0].strip()}}: exit code {{code}}")
            return result

        strict.dockernb_strict = True
        magics[name] = strict

    def before_cell(*_):
        for kind, name in (("line", "docker"), ("cell", "docker"), ("cell", "dockerfile")):
            wrap(kind, name)

    ip.events.register("pre_run_cell", before_cell)


__dockernb_strict(get_ipython())
del __dockernb_strict
"""


@dataclass
class Result:
    """One notebook's run: its name, how many code cells ran, the wall time, and the first error."""

    name: str
    cells: int
    seconds: float
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


def lab_notebooks(directory: Path = NOTEBOOKS) -> list[Path]:
    """The labs in order: ``NN-topic.ipynb`` directly in ``directory``."""
    return sorted(p for p in directory.glob("[0-9][0-9]-*.ipynb") if p.is_file())


def _cell_text(cell: Any) -> str:  # noqa: ANN401 - an nbformat NotebookNode
    """A code cell's outputs as a terminal would show them (streams, text/plain, errors)."""
    parts: list[str] = []
    for output in cell.get("outputs", []):
        kind = output.get("output_type")
        if kind == "stream":
            parts.append(str(output.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            text = str(output.get("data", {}).get("text/plain", ""))
            if text and not text.startswith(("HBox(", "VBox(", "Output(", "HTML(", "<dockernb.notebook.")):
                parts.append(text + "\n")
        elif kind == "error":
            parts.append(f"{output.get('ename')}: {output.get('evalue')}\n")
    return "".join(parts)


def docker_kernel_version(nb: Any) -> Any:  # noqa: ANN401 - nbformat's NotebookNode
    """The notebook for the Docker kernel: its docker-only cells as bash (``%docker X`` -> ``docker X``).

    Cells holding Python (the setup, requests from the notebook) have no place in a bash kernel and
    are left out, so only the labs marked ``"dockernb": {"docker_kernel": true}`` are run this way.
    """
    import copy

    twin = copy.deepcopy(nb)
    twin.cells = []
    for cell in nb.cells:
        lines = [line for line in str(cell.source).splitlines() if line.strip()]
        if cell.cell_type != "code":
            twin.cells.append(copy.deepcopy(cell))
        elif lines and all(line.startswith(("%docker ", "#")) for line in lines):
            new = copy.deepcopy(cell)
            new.source = "\n".join(line[1:] if line.startswith("%docker ") else line for line in lines)
            twin.cells.append(new)
    twin.metadata["kernelspec"] = {"name": DOCKER_KERNEL, "display_name": "Docker (dockernb)", "language": "bash"}
    return twin


def ensure_docker_kernel() -> None:
    """Install the Docker kernel's spec into this environment when Jupyter does not know it yet."""
    import subprocess

    from jupyter_client.kernelspec import KernelSpecManager

    if DOCKER_KERNEL not in KernelSpecManager().find_kernel_specs():
        subprocess.run([sys.executable, "-m", "dockernb.kernel", "install", "--sys-prefix"], check=True,
                       stdout=subprocess.DEVNULL)  # fmt: skip


def wants_docker_kernel(path: Path) -> bool:
    """The lab says it also runs in the Docker kernel (its metadata)."""
    import json

    return bool(json.loads(path.read_text()).get("metadata", {}).get("dockernb", {}).get("docker_kernel"))


def run_notebook(path: Path, *, timeout: int = 900, out: TextIO | None = None, save: Path | None = None,
                 echo: bool = True, docker_kernel: bool = False) -> Result:  # fmt: skip
    """Execute one notebook in a fresh kernel (cwd: its directory); never raises for the notebook's failures.

    ``docker_kernel``: its :func:`docker_kernel_version` in the Docker kernel (bare ``docker`` lines).
    """
    import importlib

    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nbformat: Any = importlib.import_module("nbformat")  # untyped: as Any, not a mypy exception for all
    stream = out or sys.stdout
    nb = nbformat.read(str(path), as_version=4)
    name = path.stem
    if docker_kernel:
        nb = docker_kernel_version(nb)
        name += " [docker kernel]"
    # the Docker kernel fails a cell on a non-zero exit code by itself: its first cell is a no-op
    preamble = nbformat.v4.new_code_cell("true" if docker_kernel else STRICT_PREAMBLE)
    preamble.metadata["tags"] = ["dockernb-demo-preamble"]
    nb.cells.insert(0, preamble)
    cells = sum(1 for c in nb.cells[1:] if c.cell_type == "code")
    executed = 0

    def on_cell_executed(cell: Any, cell_index: int, execute_reply: Any) -> None:  # noqa: ANN401
        nonlocal executed
        if cell_index == 0:
            return
        executed += 1
        if echo:
            lines = str(cell.source).strip().splitlines()
            head = "\n".join(f"  >>> {line}" for line in lines[:3]) + ("\n  >>> ..." if len(lines) > 3 else "")
            stream.write(f"[{name} {executed}/{cells}]\n{head}\n")
            text = _cell_text(cell)
            if text:
                stream.write("".join(f"  {line}\n" for line in text.rstrip("\n").splitlines()))
            stream.flush()

    kernel = DOCKER_KERNEL if docker_kernel else "python3"
    # the kernels' log: ipykernel warns at each start that its local TCP is unencrypted; errors still show
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=False,
                            extra_arguments=["--IPKernelApp.log_level=ERROR"],
                            resources={"metadata": {"path": str(path.parent)}},
                            on_cell_executed=on_cell_executed)  # fmt: skip
    error = ""
    start = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as err:
        error = _first_line(str(err.ename) + ": " + str(err.evalue)) if getattr(err, "ename", "") else _first_line(err)
    except (CellTimeoutError, DeadKernelError, RuntimeError, OSError) as err:
        error = _first_line(f"{type(err).__name__}: {err}")
    seconds = time.monotonic() - start
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)
        nb.cells.pop(0)
        nbformat.write(nb, str(save / (path.stem + (".docker-kernel" if docker_kernel else "") + path.suffix)))
    return Result(name, executed, seconds, error)


def _first_line(err: object) -> str:
    lines = [line for line in str(err).splitlines() if line.strip()]
    return lines[-1][:200] if lines else "failed"


def summary(results: Sequence[Result]) -> str:
    """The table printed at the end."""
    width = max([len("notebook"), *(len(r.name) for r in results)])
    rows = [f"{'notebook':<{width}}  {'cells':>5}  {'seconds':>7}  result"]
    for r in results:
        rows.append(f"{r.name:<{width}}  {r.cells:>5}  {r.seconds:>7.1f}  {'pass' if r.ok else 'FAIL: ' + r.error}")
    passed = sum(r.ok for r in results)
    total = sum(r.seconds for r in results)
    rows.append(f"{passed}/{len(results)} notebooks passed in {total:.0f} s")
    return "\n".join(rows)


def run_all(paths: Sequence[Path], *, out: TextIO, timeout: int = 900, save: Path | None = None,
            echo: bool = True, progress: Callable[[Result], None] | None = None) -> list[Result]:  # fmt: skip
    """Each notebook in the IPython kernel, then (the labs that say so) in the Docker kernel."""
    results: list[Result] = []
    runs = [(p, False) for p in paths] + [(p, True) for p in paths if wants_docker_kernel(p)]
    if any(docker for _, docker in runs):
        ensure_docker_kernel()
    for path, docker in runs:
        title = path.name + (" [docker kernel]" if docker else "")
        out.write(f"=== {title} ===\n")
        out.flush()
        result = run_notebook(path, timeout=timeout, out=out, save=save, echo=echo, docker_kernel=docker)
        out.write(f"=== {title}: {'pass' if result.ok else 'FAIL: ' + result.error} ({result.seconds:.1f} s)\n\n")
        out.flush()
        results.append(result)
        if progress is not None:
            progress(result)
    return results


def _lab(directory: Path) -> int:
    import subprocess

    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--notebook-dir={directory}"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    print("starting JupyterLab on notebooks/; open the URL it prints (with its token)", flush=True)
    return subprocess.call(cmd)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m dockernb.demo", description="run the lab notebooks headless")
    ap.add_argument("--lab", action="store_true", help="start JupyterLab on notebooks/ instead")
    ap.add_argument("--notebooks", type=Path, default=NOTEBOOKS, help="the notebooks directory")
    ap.add_argument("--save", type=Path, default=None, help="write the executed notebooks to this directory")
    ap.add_argument("--timeout", type=int, default=900, help="seconds a cell may take")
    ap.add_argument("-q", "--quiet", action="store_true", help="no cell output, only the summary")
    ap.add_argument("only", nargs="*", help="run only notebooks whose name starts with one of these (01 03-...)")
    args = ap.parse_args(argv)
    if args.lab:
        return _lab(args.notebooks)
    paths = lab_notebooks(args.notebooks)
    if args.only:
        paths = [p for p in paths if any(p.name.startswith(o) for o in args.only)]
    if not paths:
        print(f"no lab notebooks in {args.notebooks}", file=sys.stderr)
        return 1
    results = run_all(paths, out=sys.stdout, timeout=args.timeout, save=args.save, echo=not args.quiet)
    print(summary(results), flush=True)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
