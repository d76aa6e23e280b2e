#!/usr/bin/env bash
# The rootless pass of `make test`: run the tests marked `rootless` as an unprivileged user.
#
# That user cannot reach the project's interpreter (pyenv under /root, mode 0700), so it runs
# from a world-readable copy of the tree with a venv made from Debian's /usr/bin/python3 (3.11.2).
# Creates the user (with /etc/subuid and /etc/subgid ranges) and its XDG_RUNTIME_DIR if missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "the rootless pass is driven by root (it creates the test user)" >&2; exit 1; }

USER_NAME=${DOCKERNB_TEST_USER:-dockernb-test}
# one copy per source tree, so that passes from several checkouts never clobber each other
BASE=${DOCKERNB_ROOTLESS_DIR:-/var/tmp/dockernb-rootless-$(pwd | sha256sum | cut -c1-8)}

if ! id "$USER_NAME" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$USER_NAME"
fi
grep -q "^$USER_NAME:" /etc/subuid || echo "$USER_NAME:400000:65536" >> /etc/subuid
grep -q "^$USER_NAME:" /etc/subgid || echo "$USER_NAME:400000:65536" >> /etc/subgid
uid=$(id -u "$USER_NAME")
run_dir=/run/user/$uid
install -d -m 0700 -o "$USER_NAME" -g "$USER_NAME" "$run_dir"

install -d -m 0755 -o "$USER_NAME" -g "$USER_NAME" "$BASE"
runuser -u "$USER_NAME" -- mkdir -p "$BASE/src"
rsync -a --delete --chown="$USER_NAME:$USER_NAME" --exclude .venv --exclude .git --exclude '__pycache__' \
  --exclude .mypy_cache --exclude .ruff_cache --exclude .pytest_cache --exclude 'labextension/node_modules' \
  --exclude 'tests/artifacts' ./ "$BASE/src/"

stamp="$BASE/venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  rm -rf "$BASE/venv"
  runuser -u "$USER_NAME" -- /usr/bin/python3 -m venv "$BASE/venv"
  runuser -u "$USER_NAME" -- env HOME="/home/$USER_NAME" "$BASE/venv/bin/pip" install -q -e "$BASE/src[test]" 2>&1 \
    | grep -v '^WARNING: Location' || true
  runuser -u "$USER_NAME" -- touch "$stamp"
else
  # the editable install points at $BASE/src, which rsync just refreshed
  :
fi

# the golden transcripts live beside the project (../shared); give the copy its own readable copy
if [ -d ../shared/golden ]; then
  install -d -m 0755 "$BASE/golden" && cp ../shared/golden/*.json "$BASE/golden/" && chmod 0644 "$BASE/golden/"*.json
fi

kit_env=()
if [ -f "${DOCKERNB_KIT_DIR:-/var/cache/dockernb/kit}/env.sh" ]; then
  while IFS= read -r line; do kit_env+=("${line#export }"); done < "${DOCKERNB_KIT_DIR:-/var/cache/dockernb/kit}/env.sh"
fi

mkdir -p tests/artifacts
chmod 0777 tests/artifacts 2>/dev/null || true
exec runuser -u "$USER_NAME" -- env -i HOME="/home/$USER_NAME" USER="$USER_NAME" LOGNAME="$USER_NAME" \
  PATH="$BASE/venv/bin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin" XDG_RUNTIME_DIR="$run_dir" \
  CI="${CI:-}" DOCKERNB_TEST_PASS=rootless DOCKERNB_GOLDEN="$BASE/golden" "${kit_env[@]}" \
  bash -c "cd '$BASE/src' && exec python -m pytest -m rootless -p no:cacheprovider $*"
