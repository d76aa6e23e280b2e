"""Root filesystem tarballs for the kit: busybox-static, mmdebstrap, and the hello program."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from dockernb.labkit.recipes import SOURCE_DATE_EPOCH, Rootfs

__all__ = ["build_rootfs"]

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")

NGINX_CONF = """\
# dockernb labkit: like the official nginx image's /etc/nginx/conf.d/default.conf
server {
    listen       80;
    listen  [::]:80;
    server_name  localhost;

    location / {
        root   /usr/share/nginx/html;
        index  index.html index.htm;
    }

    error_page   500 502 503 504  /50x.html;
    location = /50x.html {
        root   /usr/share/nginx/html;
    }
}
"""

NGINX_INDEX = """\
<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
<style>
html { color-scheme: light dark; }
body { width: 35em; margin: 0 auto; font-family: Tahoma, Verdana, Arial, sans-serif; }
</style>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. This copy is Debian's nginx package, served from the dockernb lab kit.</p>
</body>
</html>
"""

# Shell run by mmdebstrap's customize hook with the chroot directory as $1.
HOOKS = {
    "common": """
set -e
mkdir -p "$1/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$1/etc/ssl/certs/ca-certificates.crt"
rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*.bin "$1"/var/cache/apt/archives/*.deb
rm -f "$1"/var/log/apt/* "$1"/var/log/dpkg.log "$1"/var/log/alternatives.log
""",
    "nginx": """
set -e
rm -f "$1/etc/nginx/sites-enabled/default"
mkdir -p "$1/etc/nginx/conf.d" "$1/usr/share/nginx/html" "$1/var/log/nginx"
cat > "$1/etc/nginx/conf.d/default.conf" <<'CONF'
{conf}CONF
cat > "$1/usr/share/nginx/html/index.html" <<'HTML'
{index}HTML
cat > "$1/usr/share/nginx/html/50x.html" <<'HTML'
<!DOCTYPE html><html><head><title>Error</title></head><body><h1>An error occurred.</h1></body></html>
HTML
ln -sf /dev/stdout "$1/var/log/nginx/access.log"
ln -sf /dev/stderr "$1/var/log/nginx/error.log"
""",
    "python": """
set -e
rm -f "$1"/usr/lib/python3*/EXTERNALLY-MANAGED
mkdir -p "$1/usr/local/bin"
ln -sf /usr/bin/python3 "$1/usr/local/bin/python"
ln -sf /usr/bin/pip3 "$1/usr/local/bin/pip"
""",
}


def _run(cmd: list[str], **kw: object) -> None:
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]


def _mmdebstrap(spec: Rootfs, out: Path, work: Path) -> None:
    hook = work / f"hook-{spec.name}.sh"
    body = HOOKS["common"]
    if spec.name == "nginx":
        body += HOOKS["nginx"].replace("{conf}", NGINX_CONF).replace("{index}", NGINX_INDEX)
    if spec.name == "python":
        body += HOOKS["python"]
    hook.write_text(body)
    cmd = [
        "mmdebstrap", "--quiet", "--variant=minbase", "--format=tar", "--skip=output/dev",
        f"--customize-hook=sh {hook} \"$1\"",
    ]
    if spec.packages:
        cmd.append("--include=" + ",".join(spec.packages))
    cmd += ["bookworm", str(out)]
    env = dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH)
    _run(cmd, env=env)


def _busybox_binary(spec: Rootfs, work: Path) -> Path:
    if spec.arch == "amd64":
        return Path("/bin/busybox")
    target = work / f"extract-{spec.arch}"
    shutil.rmtree(target, ignore_errors=True)
    # no emulation needed: the extract variant only unpacks the .deb
    _run(
        ["mmdebstrap", "--quiet", "--variant=extract", f"--architectures={spec.arch}",
         "--include=busybox-static", "bookworm", str(target)],
        env=dict(os.environ, SOURCE_DATE_EPOCH=SOURCE_DATE_EPOCH),
    )
    return target / "bin" / "busybox"


def _add(tar: tarfile.TarFile, name: str, *, kind: bytes = tarfile.DIRTYPE, mode: int = 0o755,
         data: bytes = b"", link: str = "") -> None:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.uid, info.gid = kind, mode, 0, 0, 0
    info.uname = info.gname = "root"
    if kind == tarfile.SYMTYPE:
        info.linkname = link
        tar.addfile(info)
    elif kind == tarfile.REGTYPE:
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    else:
        tar.addfile(info)


def _busybox(spec: Rootfs, out: Path, work: Path) -> None:
    binary = _busybox_binary(spec, work)
    # the applet list comes from the host's (amd64) busybox: same Debian version as the arm64 one
    applets = subprocess.run(["/bin/busybox", "--list-full"], check=True, capture_output=True, text=True)
    links = sorted(p for p in applets.stdout.split() if p and p != "bin/busybox")
    dirs = sorted({"bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "etc/ssl", "etc/ssl/certs", "root",
                   "proc", "sys", "dev", "var", "var/www", "home"})
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        entries: list[tuple[str, dict[str, object]]] = [(d, {}) for d in dirs]
        entries.append(("tmp", {"mode": 0o1777}))
        entries.append(("bin/busybox", {"kind": tarfile.REGTYPE, "data": binary.read_bytes()}))
        entries += [(p, {"kind": tarfile.SYMTYPE, "link": "/bin/busybox", "mode": 0o777}) for p in links]
        entries.append(("etc/passwd", {"kind": tarfile.REGTYPE, "mode": 0o644, "data": (
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")}))
        entries.append(("etc/group", {"kind": tarfile.REGTYPE, "mode": 0o644,
                                      "data": b"root:x:0:\nnogroup:x:65534:\n"}))
        entries.append(("etc/ssl/certs/ca-certificates.crt",
                        {"kind": tarfile.REGTYPE, "mode": 0o644, "data": HOST_CA.read_bytes()}))
        for name, kw in sorted(entries):
            _add(tar, name, **kw)  # type: ignore[arg-type]


def _hello(out: Path, work: Path) -> None:
    exe = work / "hello"
    src = Path(__file__).with_name("hello.c")
    _run(["gcc", "-static", "-Os", "-s", "-o", str(exe), str(src)])
    with tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, "hello", kind=tarfile.REGTYPE, mode=0o755, data=exe.read_bytes())


def build_rootfs(spec: Rootfs, out: Path) -> None:
    """Write ``spec``'s root filesystem as a tar at ``out`` (atomically)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with tempfile.TemporaryDirectory(prefix=f"kit-{spec.name}-", dir=out.parent) as work:
        if spec.kind == "busybox":
            _busybox(spec, tmp, Path(work))
        elif spec.kind == "mmdebstrap":
            _mmdebstrap(spec, tmp, Path(work))
        elif spec.kind == "hello":
            _hello(tmp, Path(work))
        else:
            raise ValueError(f"unknown rootfs kind {spec.kind}")
    os.replace(tmp, out)
