"""Annotation keys dockernb's bundles carry for its own runtime (runc ignores them) (L4).

They hold what docker's daemon resolves on its side but a bundle cannot express in numbers when
the rootfs is not readable yet (a snapshot mounted only inside the container's mount namespace):
the init resolves them after pivot_root, from the container's own files.
"""

from __future__ import annotations

__all__ = ["ADDITIONAL_GIDS", "GROUP_ADD", "LOOPBACK", "USER"]

#: a docker ``-u`` spec ("name", "uid:gid"...) to resolve against the container's /etc/passwd
USER = "org.dockernb.user"
#: comma-separated ``--group-add`` names or numbers, resolved against the container's /etc/group
GROUP_ADD = "org.dockernb.group-add"
#: "up": bring the loopback interface of a new network namespace up (docker's ``--network none``)
LOOPBACK = "org.dockernb.loopback"
#: comma-separated supplementary gids for a rootless bundle: runc refuses additionalGids when not
#: root (it cannot setgroups), dockernb can wherever a subordinate gid map allows setgroups
ADDITIONAL_GIDS = "org.dockernb.additional-gids"
