"""docker's ``-v``, ``--mount`` and ``--tmpfs`` grammars -> :class:`MountSpec` (layer L0, pure).

``-v`` follows the daemon's Linux parser (volume/mounts/linux_parser.go, docker 20.10):
``DST`` (an anonymous volume), ``SRC:DST[:MODE]`` where an absolute ``SRC`` is a bind and anything
else a volume name (checked later against the volume name rule, so ``./x`` fails as docker fails),
and ``MODE`` a comma list of ``ro``/``rw``, ``z``/``Z``, a propagation and ``nocopy``. ``--mount``
follows the CLI's CSV parser (opts/mount.go). Errors carry docker's sentences.
"""

from __future__ import annotations

from dockernb.errors import InvalidMountSpec
from dockernb.spec.container import MountSpec

__all__ = ["PROPAGATIONS", "parse_mount", "parse_tmpfs", "parse_volume"]

PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate")
_LABELS = ("z", "Z")


def _valid_mode(mode: str) -> bool:
    rw = prop = label = copy = 0
    for part in mode.split(","):
        if part in ("ro", "rw"):
            rw += 1
        elif part in PROPAGATIONS:
            prop += 1
        elif part in _LABELS:
            label += 1
        elif part == "nocopy":
            copy += 1
        else:
            return False
    return rw <= 1 and prop <= 1 and label <= 1 and copy <= 1


def _mount_path_error(kind: str, path: str) -> str:
    return f"invalid mount config for type \"{kind}\": invalid mount path: '{path}' mount path must be absolute"


def parse_volume(raw: str) -> MountSpec:
    """One ``-v`` value. Raises InvalidMountSpec (``invalid volume specification: '...'``)."""
    invalid = f"invalid volume specification: '{raw}'"
    parts = raw.split(":")
    src, dst, mode = "", "", ""
    if len(parts) == 1:
        dst = parts[0]
    elif len(parts) == 2:
        if _valid_mode(parts[1]):
            dst, mode = parts[0], parts[1]
        else:
            src, dst = parts
    elif len(parts) == 3:
        src, dst, mode = parts
        if not _valid_mode(mode):
            raise InvalidMountSpec(f"{invalid}: invalid mode: {mode}")
    else:
        raise InvalidMountSpec(invalid)
    if not dst:
        raise InvalidMountSpec(invalid)
    kind = "bind" if src.startswith("/") else "volume"
    if not dst.startswith("/"):
        raise InvalidMountSpec(f"{invalid}: {_mount_path_error(kind, dst)}")
    if dst.rstrip("/") == "":
        raise InvalidMountSpec("invalid specification: destination can't be '/'")
    flags = mode.split(",") if mode else []
    propagation = next((f for f in flags if f in PROPAGATIONS), "")
    if kind == "volume" and propagation:
        raise InvalidMountSpec(f"{invalid}: invalid mount config for type \"volume\": "
                               "field BindOptions must not be specified")
    options = ("nocopy",) if "nocopy" in flags else ()
    return MountSpec(type=kind, target=dst.rstrip("/") or "/", source=src.rstrip("/") if kind == "bind" and
                     src != "/" else src, read_only="ro" in flags, propagation=propagation, options=options,
                     legacy=raw, anonymous=kind == "volume" and not src)


_TRUE = ("", "1", "true")
_FALSE = ("0", "false")


def parse_mount(raw: str) -> MountSpec:
    """One ``--mount`` value (CSV of key=value). Raises InvalidMountSpec in docker's words."""
    kind, src, dst, ro, propagation = "volume", "", "", False, ""
    options: list[str] = []
    for field in raw.split(","):
        key, eq, value = field.partition("=")
        key = key.strip().lower()
        if not eq and key not in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            raise InvalidMountSpec(f"invalid field '{field}' must be a key=value pair")
        if key == "type":
            kind = value
        elif key in ("source", "src"):
            src = value
        elif key in ("target", "dst", "destination"):
            dst = value
        elif key in ("readonly", "ro"):
            if value.lower() not in _TRUE + _FALSE:
                raise InvalidMountSpec(f"invalid value for {key}: {value}")
            ro = value.lower() in _TRUE
        elif key == "bind-propagation":
            if value not in PROPAGATIONS:
                raise InvalidMountSpec(f"invalid value for {key}: {value}")
            propagation = value
        elif key == "tmpfs-size":
            options.append(f"size={value}")
        elif key == "tmpfs-mode":
            options.append(f"mode={value}")
        elif key == "volume-nocopy":
            options.append("nocopy")
        elif key in ("consistency", "bind-nonrecursive", "volume-driver", "volume-label", "volume-opt"):
            continue
        else:
            raise InvalidMountSpec(f"unexpected key '{key}' in '{field}'")
    if kind not in ("bind", "volume", "tmpfs"):
        raise InvalidMountSpec(f"invalid mount config: mount type unknown: {kind!r}" if kind else
                               "invalid mount config: mount type unknown")
    if not dst:
        raise InvalidMountSpec(f'invalid mount config for type "{kind}": field Target must not be empty')
    if not dst.startswith("/"):
        raise InvalidMountSpec(_mount_path_error(kind, dst))
    if kind == "bind" and not src:
        raise InvalidMountSpec('invalid mount config for type "bind": field Source must not be empty')
    if kind == "tmpfs" and src:
        raise InvalidMountSpec('invalid mount config for type "tmpfs": field Source must not be specified')
    if kind != "bind" and propagation:
        raise InvalidMountSpec(f'invalid mount config for type "{kind}": field BindOptions must not be specified')
    if kind == "bind" and not src.startswith("/"):
        raise InvalidMountSpec(_mount_path_error("bind", src).replace("mount path", "mount source path", 1))
    return MountSpec(type=kind, target=dst, source=src, read_only=ro, propagation=propagation,
                     options=tuple(options), anonymous=kind == "volume" and not src)


def parse_tmpfs(raw: str) -> MountSpec:
    """One ``--tmpfs DST[:OPTIONS]`` value."""
    dst, _, opts = raw.partition(":")
    if not dst.startswith("/"):
        raise InvalidMountSpec(f"invalid mount path: '{dst}' mount path must be absolute")
    options = tuple(o for o in opts.split(",") if o)
    ro = "ro" in options
    return MountSpec(type="tmpfs", target=dst, read_only=ro, options=tuple(o for o in options if o not in ("ro", "rw")))
