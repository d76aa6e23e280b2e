"""``-u user[:group]`` resolved against an image's /etc/passwd and /etc/group, with docker's rules (L4).

Pure functions over file contents (moby/sys/user's ``GetExecUser`` semantics): a name must exist
in passwd; a number may be absent (then gid 0 and HOME=/); supplementary groups come from group
membership only when no group was given explicitly. The caller reads the files: the engine from
the rootfs (confined with openat2), the init from inside the container after pivot_root.
"""

from __future__ import annotations

from dataclasses import dataclass

from dockernb.errors import InvalidArgument

__all__ = ["ExecUser", "parse_group", "parse_passwd", "resolve_user"]

_MAX_ID = 2**31 - 1


@dataclass(frozen=True, slots=True)
class ExecUser:
    uid: int
    gid: int
    sgids: tuple[int, ...] = ()
    home: str = "/"
    name: str = ""


@dataclass(frozen=True, slots=True)
class _Passwd:
    name: str
    uid: int
    gid: int
    home: str


@dataclass(frozen=True, slots=True)
class _Group:
    name: str
    gid: int
    members: tuple[str, ...]


def parse_passwd(text: str) -> list[_Passwd]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split(":")
        f += [""] * (7 - len(f))
        try:
            out.append(_Passwd(f[0], int(f[2]), int(f[3]), f[5]))
        except ValueError:
            continue
    return out


def parse_group(text: str) -> list[_Group]:
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        f = line.split(":")
        f += [""] * (4 - len(f))
        try:
            out.append(_Group(f[0], int(f[2]), tuple(m for m in f[3].split(",") if m)))
        except ValueError:
            continue
    return out


def _num(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def resolve_user(spec: str, passwd: str | None, group: str | None) -> ExecUser:
    """Resolve a docker user spec (``""``, ``name``, ``uid``, ``name:group``, ``uid:gid``...).

    ``passwd``/``group`` are the files' contents, None when the image has no such file.

    Raises:
        InvalidArgument: a name that is not in the files (docker's wording), or an id out of range.
    """
    user_arg, _, group_arg = spec.partition(":")
    uid_num, gid_num = _num(user_arg), _num(group_arg)
    users = parse_passwd(passwd) if passwd is not None else []
    if user_arg == "":
        match = [u for u in users if u.uid == 0]
    elif uid_num is not None:
        match = [u for u in users if u.uid == uid_num]
    else:
        match = [u for u in users if u.name == user_arg]
    uid, gid, home, name = 0, 0, "/", ""
    if match:
        uid, gid, home, name = match[0].uid, match[0].gid, match[0].home or "/", match[0].name
    elif user_arg:
        if uid_num is None:
            raise InvalidArgument(f"unable to find user {user_arg}: no matching entries in passwd file")
        uid = uid_num
    if uid > _MAX_ID:
        raise InvalidArgument(f"uids and gids must be in range 0-{_MAX_ID}")
    sgids: tuple[int, ...] = ()
    if group_arg or name:
        groups = parse_group(group) if group is not None else []
        if group_arg:
            hit = [g for g in groups if (g.gid == gid_num if gid_num is not None else g.name == group_arg)]
            if hit:
                gid = hit[0].gid
            elif gid_num is None:
                raise InvalidArgument(f"unable to find group {group_arg}: no matching entries in group file")
            else:
                gid = gid_num
            if gid > _MAX_ID:
                raise InvalidArgument(f"uids and gids must be in range 0-{_MAX_ID}")
        else:
            sgids = tuple(g.gid for g in groups if name in g.members)
    return ExecUser(uid=uid, gid=gid, sgids=sgids, home=home, name=name)


def additional_gids(names: tuple[str, ...], group: str | None) -> tuple[int, ...]:
    """``--group-add`` values (names or numbers) as gids."""
    groups = parse_group(group) if group is not None else []
    out = []
    for item in names:
        num = _num(item)
        if num is not None:
            out.append(num)
            continue
        hit = [g.gid for g in groups if g.name == item]
        if not hit:
            raise InvalidArgument(f"Unable to find group {item}: no matching entries in group file")
        out.append(hit[0])
    return tuple(out)
