"""A fault-injecting TCP proxy to put in front of a real registry in tests.

``with FaultProxy(("127.0.0.1", 5000)) as proxy:`` listens on ``proxy.address`` and relays bytes
both ways. Faults apply to the bytes flowing back to the client, counted per connection (HTTP
headers and earlier responses on a kept-alive connection included), each for the next ``times``
connections that get that far:

* ``drop_after(n)``: reset the connection once ``n`` bytes went down (a dropped download);
* ``stall_after(n, seconds)``: stop relaying for a while (a hung server; the client times out);
* ``garble_at(n)``: flip the byte at offset ``n`` (corruption the digest must catch);
* ``throttle(bytes_per_second)``: a slow link.

Everything runs in daemon threads of the calling process; ``stop()`` closes every socket.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass
from types import TracebackType

__all__ = ["FaultProxy", "non_loopback_address"]


def non_loopback_address() -> str:
    """An IPv4 address of this machine outside 127.0.0.0/8 (docker treats those as secure registries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # TEST-NET-1: routing picks our address; nothing is sent
        address = str(s.getsockname()[0])
    if address.startswith("127."):
        raise OSError("this machine has no IPv4 address outside 127.0.0.0/8")
    return address


@dataclass
class _Fault:
    kind: str  # drop | stall | garble
    at: int
    times: int
    seconds: float = 0.0


class FaultProxy:
    def __init__(self, target: tuple[str, int], *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = target
        self._listener = socket.create_server((host, port))
        self.host, self.port = self._listener.getsockname()[:2]
        self._faults: list[_Fault] = []
        self._rate: float | None = None
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._stopped = threading.Event()
        self.connections = 0
        self.injected: list[str] = []

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    # --- faults ----------------------------------------------------------------------

    def drop_after(self, nbytes: int, *, times: int = 1) -> None:
        with self._lock:
            self._faults.append(_Fault("drop", nbytes, times))

    def stall_after(self, nbytes: int, seconds: float, *, times: int = 1) -> None:
        with self._lock:
            self._faults.append(_Fault("stall", nbytes, times, seconds))

    def garble_at(self, nbytes: int, *, times: int = 1) -> None:
        with self._lock:
            self._faults.append(_Fault("garble", nbytes, times))

    def throttle(self, bytes_per_second: float | None) -> None:
        self._rate = bytes_per_second

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
        self._rate = None

    def _claim(self, sent: int, end: int) -> _Fault | None:
        """The first armed fault whose offset falls in [sent, end), consumed for this connection."""
        with self._lock:
            for fault in self._faults:
                if fault.times > 0 and sent <= fault.at < end:
                    fault.times -= 1
                    self.injected.append(fault.kind)
                    return fault
        return None

    # --- life cycle ------------------------------------------------------------------

    def start(self) -> FaultProxy:
        t = threading.Thread(target=self._accept, name=f"faultproxy-{self.port}", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stopped.set()
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() blocked in our thread
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            socks = list(self._sockets)
        for s in socks:
            self._close(s)
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _close(self, s: socket.socket, *, reset: bool = False) -> None:
        try:
            # close(2) alone does not wake a recv blocked in the other pump thread (nor send anything
            # while that recv holds the socket); shutdown does. SHUT_RD sends nothing, so a reset stays a reset
            if reset:  # RST, not FIN: the client sees "connection reset", as when a link dies
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RD)
            else:
                s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            s.close()
        except OSError:
            pass
        with self._lock:
            self._sockets.discard(s)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                self._close(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
                self.connections += 1
            for src, dst, down in ((client, upstream, False), (upstream, client, True)):
                t = threading.Thread(target=self._pump, args=(src, dst, down), daemon=True)
                t.start()
                self._threads.append(t)

    def _pump(self, src: socket.socket, dst: socket.socket, down: bool) -> None:
        sent = 0
        try:
            while True:
                data = src.recv(1 << 16)
                if not data:
                    break
                if down:
                    fault = self._claim(sent, sent + len(data))
                    if fault is not None:
                        cut = fault.at - sent
                        dst.sendall(data[:cut])
                        if fault.kind == "drop":
                            self._close(dst, reset=True)
                            self._close(src, reset=True)
                            return
                        if fault.kind == "stall":
                            time.sleep(fault.seconds)
                        elif fault.kind == "garble":
                            data = data[:cut] + bytes([data[cut] ^ 0xFF]) + data[cut + 1 :]
                        data = data[cut:]
                        sent += cut
                    if self._rate:
                        time.sleep(len(data) / self._rate)
                dst.sendall(data)
                sent += len(data)
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        except OSError:
            self._close(dst, reset=True)
            self._close(src, reset=True)
