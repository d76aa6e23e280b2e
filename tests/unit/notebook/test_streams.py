"""client.streams: an exec's pty as an attach stream, and text streams given a byte side."""

from __future__ import annotations

import fcntl
import io
import os
import subprocess
import termios
import time
from dataclasses import dataclass

import pytest

from dockernb.client.streams import ExecStream, with_bytes

pytestmark = pytest.mark.rootless


@dataclass
class _Proc:
    """An ExecHandle over a local process on a pty (what exec_start returns, without a container)."""

    popen: subprocess.Popen[bytes]
    pty_master: int | None
    pid: int = 0
    stdin: int | None = None
    stdout: int | None = None
    stderr: int | None = None

    def wait(self) -> int:
        return self.popen.wait(10)

    def close(self) -> None:
        if self.pty_master is not None:
            os.close(self.pty_master)
            self.pty_master = None


def _spawn(script: str) -> _Proc:
    master, slave = os.openpty()
    # its own session with the pty as controlling terminal, as a container's exec with a tty has
    popen = subprocess.Popen(["sh", "-c", script], stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                             preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))  # fmt: skip
    os.close(slave)
    return _Proc(popen, master, popen.pid)


def _read_all(stream: ExecStream) -> bytes:
    out = b""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            frame = stream.recv(0.2)
        except TimeoutError:
            continue
        if frame is None:
            return out
        assert frame[0] == "stdout"
        out += frame[1]
    raise AssertionError("the stream did not end")


def test_exec_stream_reads_writes_and_reports_the_exit_code() -> None:
    stream = ExecStream(_spawn("read line; echo got-$line; exit 3"))
    stream.write(b"abc\r")
    out = _read_all(stream)
    assert b"got-abc" in out and stream.exit_code == 3
    stream.close()


def test_closing_an_exec_stream_hangs_up_and_reaps() -> None:
    proc = _spawn("sleep 30")
    stream = ExecStream(proc)
    with pytest.raises(TimeoutError):
        stream.recv(0.1)
    stream.close()  # detach: SIGHUP to the session on the pty, reaped in the background
    deadline = time.monotonic() + 10
    while proc.popen.returncode is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert stream.exit_code == -1  # killed by SIGHUP (Popen's sign convention)


def test_text_streams_get_a_byte_side_that_keeps_split_characters() -> None:
    text = io.StringIO()
    sink = with_bytes(text)
    data = "é€\n".encode()
    sink.buffer.write(data[:1])  # type: ignore[attr-defined]
    sink.buffer.write(data[1:4])  # type: ignore[attr-defined]
    sink.buffer.write(data[4:])  # type: ignore[attr-defined]
    sink.write("ok\n")
    assert text.getvalue() == "é€\nok\n"
    raw = io.TextIOWrapper(io.BytesIO())
    assert with_bytes(raw) is raw
