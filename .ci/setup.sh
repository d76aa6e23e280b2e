#!/usr/bin/env bash
# Idempotent setup for a fresh Debian 12 machine: Debian packages (as root), then .venv with
# dockernb installed editable. `make` targets call this; it is quick when nothing is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PKGS=(busybox-static mmdebstrap umoci skopeo docker-registry uidmap slirp4netns passt fuse-overlayfs
      runc tini iproute2 nftables iptables gcc libc6-dev libseccomp2 python3-venv curl procps rsync
      hyperfine docker.io podman chromium)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "[setup] apt-get install ${missing[*]}" >&2
    apt-get update -qq
    # no daemons from postinst scripts: dockerd/containerd stay stopped (the reference engines are
    # started on purpose by ../shared/anchors when a bench wants them)
    if [ ! -e /usr/sbin/policy-rc.d ]; then
      printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "dockernb needs these Debian packages; as root, run:" >&2
    echo "  apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
fi

# Rootless networking (pasta, slirp4netns) opens /dev/net/tun as the user. Debian's udev rule makes
# it 0666; a machine without udev (this VM: devtmpfs default 0600) needs the same by hand.
if [ "$(id -u)" = 0 ] && [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" = 600 ]; then
  chmod 0666 /dev/net/tun
fi

PY=${PYTHON:-python3}
stamp=.venv/.installed-$(cat pyproject.toml | sha256sum | cut -c1-16)
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
if [ ! -f "$stamp" ]; then
  echo "[setup] pip install -e .[test,dev,kit,notebook,jupyter,browser,labs]" >&2
  .venv/bin/pip install -q -e '.[test,dev,kit,notebook,jupyter,browser,labs]' 2>&1 | grep -v '^WARNING: Location' || true
  .venv/bin/python -c 'import dockernb' 
  rm -f .venv/.installed-*
  touch "$stamp"
fi
