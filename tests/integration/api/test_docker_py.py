"""docker-py (a client we did not write) against `dockernb serve`: a scenario suite written from
docker-py's documented behaviour, high-level and low-level clients: containers.run (attached,
detached, remove), create/start, logs (whole and streamed), exec_run (with exit codes, streamed,
detached), attach_socket, wait, remove, kill, rename, list filters, networks and volumes."""

from __future__ import annotations

import gc
import socket
import time

import docker
import pytest
from docker.errors import APIError, ContainerError, NotFound

from dockernb.testing.apiserver import ServedApi

pytestmark = [
    pytest.mark.kit,
    pytest.mark.rootless,
    # docker-py leaves the socket of one of its streamed responses to the garbage collector (the
    # warning names the client's end of the connection); the fixture collects it at its teardown
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture
def client(served: ServedApi) -> docker.DockerClient:
    c = docker.DockerClient(base_url=served.docker_host, version="1.41", timeout=120)
    yield c
    c.close()
    gc.collect()  # a socket left open by this test warns here, not in a later one


def _read_frames(sock: socket.socket, want: bytes, timeout: float = 30) -> bytes:
    """Demultiplex an attach stream until ``want`` shows up in stdout (or the stream ends)."""
    sock.settimeout(timeout)
    buf, out = b"", b""
    while want not in out:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            size = int.from_bytes(buf[4:8], "big")
            if len(buf) < 8 + size:
                break
            if buf[0] == 1:
                out += buf[8 : 8 + size]
            buf = buf[8 + size :]
    return out


def test_containers_run_logs_exec_wait_remove(client: docker.DockerClient) -> None:
    # attached run: the output is the return value; a failing command raises ContainerError
    assert client.containers.run("busybox", ["echo", "hello"], remove=True) == b"hello\n"
    with pytest.raises(ContainerError) as failed:
        client.containers.run("busybox", ["sh", "-c", "echo oops >&2; exit 3"], remove=True, stderr=True)
    assert failed.value.exit_status == 3 and b"oops" in failed.value.stderr
    with pytest.raises(NotFound, match="manifest unknown"):  # the pull's 404, as dockerd's
        client.containers.run("127.0.0.1:5000/no-such-image", remove=True)

    # detached run, streamed logs, exec_run
    c = client.containers.run("busybox", ["sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.2; done; sleep 1000"],
                              detach=True, name="py-a", labels={"suite": "docker-py"})
    assert c.name == "py-a" and c.status == "created"
    c.reload()
    assert c.status == "running" and c.attrs["Config"]["Labels"]["suite"] == "docker-py"
    stream = c.logs(stream=True, follow=True)
    seen = b""
    for chunk in stream:
        seen += chunk
        if b"line3" in seen:
            break
    stream.close()
    assert seen == b"line1\nline2\nline3\n"
    assert c.logs(tail=1) == b"line3\n" and c.logs(timestamps=True).split(b" ", 1)[1].startswith(b"line1")
    result = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 4"])
    assert result.exit_code == 4 and result.output in (b"out\nerr\n", b"err\nout\n")
    demuxed = c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
    assert demuxed.output == (b"out\n", b"err\n")
    assert c.exec_run("cat /etc/hostname", workdir="/tmp", user="nobody").output == f"{c.id[:12]}\n".encode()
    streamed = c.exec_run(["sh", "-c", "echo a; sleep 0.2; echo b"], stream=True)
    assert b"".join(streamed.output) == b"a\nb\n"
    detached = c.exec_run(["touch", "/tmp/flag"], detach=True)
    assert detached.exit_code is None and not detached.output
    for _ in range(50):
        if c.exec_run(["test", "-e", "/tmp/flag"]).exit_code == 0:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the detached exec did not run")
    missing = c.exec_run(["no-such-cmd"])
    assert missing.exit_code == 126 and b"executable file not found" in missing.output

    # attach with the logs only: the whole log so far, demultiplexed by docker-py
    assert c.attach(stdout=True, stderr=True, logs=True, stream=False) == b"line1\nline2\nline3\n"

    # list with filters, rename, kill, wait, remove
    assert [x.name for x in client.containers.list(filters={"label": "suite=docker-py"})] == ["py-a"]
    c.rename("py-b")
    assert client.containers.get("py-b").id == c.id
    c.kill()
    assert c.wait(timeout=30) == {"StatusCode": 137, "Error": None}
    assert client.containers.list(filters={"name": "py-b"}) == []
    assert [x.id for x in client.containers.list(all=True, filters={"status": "exited"})] == [c.id]
    c.remove()
    with pytest.raises(NotFound):
        client.containers.get("py-b")


def test_create_attach_socket_start_wait(client: docker.DockerClient, served: ServedApi) -> None:
    api = client.api
    created = api.create_container("busybox", ["sh", "-c", "read x; echo got-$x; exit 7"], stdin_open=True,
                                   name="py-attach")
    with pytest.raises(APIError) as conflict:
        api.create_container("busybox", ["true"], name="py-attach")
    assert conflict.value.status_code == 409
    # attach before the start (as the docker CLI does): no output is lost
    sock = api.attach_socket(created["Id"], params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1})
    raw = sock._sock  # the socket under docker-py's SocketIO
    api.start(created["Id"])
    raw.sendall(b"hi\n")
    assert _read_frames(raw, b"got-hi\n") == b"got-hi\n"
    sock.close()
    raw.close()
    assert api.wait(created["Id"], timeout=30)["StatusCode"] == 7
    inspected = api.inspect_container(created["Id"])
    assert inspected["State"]["Status"] == "exited" and inspected["State"]["ExitCode"] == 7
    # docker's 304 for a stop of a stopped container (or a start of a running one) is no error to docker-py
    api.stop(created["Id"])
    c2 = api.create_container("busybox", ["sleep", "100"])
    api.start(c2)
    api.start(c2)
    with pytest.raises(APIError) as running:
        api.remove_container(c2)
    assert running.value.status_code == 409 and "cannot remove a running container" in str(running.value.explanation)
    api.remove_container(c2, force=True)
    api.remove_container(created["Id"], v=True)
    with pytest.raises(NotFound):
        api.inspect_container(created["Id"])
    with pytest.raises(APIError) as bad:
        api.wait("py-none")
    assert bad.value.status_code == 404


def test_networks_and_volumes(client: docker.DockerClient) -> None:
    net = client.networks.create("py-net", driver="bridge", labels={"k": "v"})
    assert net.name == "py-net" and client.networks.get(net.id).attrs["Labels"] == {"k": "v"}
    assert "py-net" in [n.name for n in client.networks.list()]
    assert [n.name for n in client.networks.list(filters={"label": "k=v"})] == ["py-net"]
    vol = client.volumes.create("py-vol", labels={"k": "v"})
    assert vol.attrs["Mountpoint"].endswith("/py-vol/_data")
    assert [v.name for v in client.volumes.list(filters={"label": "k=v"})] == ["py-vol"]
    c = client.containers.run("busybox", ["sh", "-c", "echo data > /v/f; sleep 1000"], detach=True, network="py-net",
                              volumes={"py-vol": {"bind": "/v", "mode": "rw"}}, name="py-net-c")
    c.reload()
    assert c.attrs["NetworkSettings"]["Networks"]["py-net"]["IPAddress"]
    net.reload()
    assert list(net.attrs["Containers"]) == [c.id]
    with pytest.raises(APIError) as in_use:
        vol.remove()
    assert in_use.value.status_code == 409
    with pytest.raises(APIError) as net_in_use:
        net.remove()
    assert net_in_use.value.status_code == 403
    # a second container reads the volume through the network's name resolution of the first
    out = client.containers.run("busybox", ["sh", "-c", "cat /v/f; nslookup py-net-c >/dev/null && echo resolved"],
                                network="py-net", volumes=["py-vol:/v:ro"], remove=True)
    assert out == b"data\nresolved\n"
    c.remove(force=True)
    vol.remove()
    net.remove()
    with pytest.raises(NotFound):
        client.volumes.get("py-vol")
    with pytest.raises(NotFound):
        client.networks.get("py-net")
    assert client.volumes.prune()["VolumesDeleted"] in ([], None)


def test_raw_hijack_forms_and_exec_resize(client: docker.DockerClient, served: ServedApi) -> None:
    """The older attach form (no Upgrade header: 200 and the raw stream), and a tty exec resized by the API."""
    c = client.containers.run("busybox", ["sh", "-c", "echo ready; read line; echo got-$line"], detach=True,
                              stdin_open=True)
    sock = served.raw()
    try:
        sock.sendall(f"POST /v1.41/containers/{c.id}/attach?stream=1&stdin=1&stdout=1&logs=1 HTTP/1.1\r\n"
                     "Host: docker\r\nContent-Length: 0\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(1)
        assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"application/vnd.docker.raw-stream" in head
        assert _read_frames(sock, b"ready\n") == b"ready\n"
        sock.sendall(b"x\n")
        assert _read_frames(sock, b"got-x\n") == b"got-x\n"
    finally:
        sock.close()
    assert c.wait(timeout=30)["StatusCode"] == 0

    c = client.containers.run("busybox", ["sleep", "1000"], detach=True)
    exec_id = client.api.exec_create(c.id, ["sh", "-c", "sleep 0.5; stty size"], tty=True)["Id"]
    wrapper = client.api.exec_start(exec_id, tty=True, socket=True)
    sock = wrapper._sock
    client.api.exec_resize(exec_id, height=33, width=77)
    out = b""
    sock.settimeout(30)
    while chunk := sock.recv(4096):
        out += chunk
    wrapper.close()
    sock.close()
    assert out.strip() == b"33 77"
    inspected = client.api.exec_inspect(exec_id)
    assert (inspected["Running"], inspected["ExitCode"], inspected["ProcessConfig"]["tty"]) == (False, 0, True)
    assert inspected["ContainerID"] == c.id
    with pytest.raises(APIError) as again:
        client.api.exec_start(exec_id)
    assert again.value.status_code == 409
    with pytest.raises(NotFound):
        client.api.exec_inspect("no-such-exec")
    c.remove(force=True)
