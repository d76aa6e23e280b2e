#!/usr/bin/env bash
# Build the JupyterLab extension for CI and development (`make labext`), once per change:
#   - `jlpm install --immutable` (the committed yarn.lock, exactly) only when package.json,
#     yarn.lock or .yarnrc.yml changed since the last install (a stamp in node_modules); yarn's
#     global cache (~/.yarn/berry/cache) makes a fresh clone's install a copy, not a download;
#   - `jlpm build:prod` only when a source is newer than dockernb/jupyter/labextension;
#   - copies the build into .venv/share/jupyter/labextensions (as `pip install .` does), so
#     `jupyter labextension list` shows the current build.
# `lint` instead runs the extension's own lint (tsc strict + eslint, type-aware).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/.venv/bin:$PATH"
command -v jlpm >/dev/null || { echo "jlpm missing: .venv lacks the jupyter extra (make setup)" >&2; exit 1; }

cd labextension
log=$(mktemp -t dockernb-labext.XXXXXX)
trap 'rm -f "$log"' EXIT
stamp="node_modules/.dockernb-installed-$(cat package.json yarn.lock .yarnrc.yml | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  echo "[labext] jlpm install --immutable" >&2
  start=$(date +%s)
  jlpm install --immutable >"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
  rm -f node_modules/.dockernb-installed-*
  touch "$stamp"
  echo "[labext] installed in $(( $(date +%s) - start ))s" >&2
fi

if [ "${1:-build}" = lint ]; then
  jlpm lint
  exit
fi

if ! python -c 'import hatch_build, sys; sys.exit(0 if hatch_build.up_to_date() else 1)'; then
  echo "[labext] jlpm build:prod" >&2
  jlpm build:prod >"$log" 2>&1 || { tail -30 "$log" >&2; exit 1; }
fi

out="$root/dockernb/jupyter/labextension"
dest="$root/.venv/share/jupyter/labextensions/dockernb-labext"
# a copy, as `pip install .` makes (a link would let pip's uninstall of an editable install
# delete files of the build itself, through the link)
if ! diff -rq -x install.json "$out" "$dest" >/dev/null 2>&1 || [ -L "$dest" ]; then
  rm -rf "$dest"
  mkdir -p "$(dirname "$dest")"
  cp -r "$out" "$dest"
  cp install.json "$dest/"
fi
