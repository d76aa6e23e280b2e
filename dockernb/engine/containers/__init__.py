"""The container service, one module per verb group (layer L6).

``engine.containers`` is a :class:`ContainerService`; see :mod:`.service` for the verbs and
:mod:`.create`, :mod:`.start`, :mod:`.lifecycle`, :mod:`.query`, :mod:`.execs`, :mod:`.attach`,
:mod:`.hooks` for how each is done; :mod:`.pause`, :mod:`.top`, :mod:`.stats`, :mod:`.update`, prune (in
:mod:`.query`), :mod:`.diff`, :mod:`.commit`, :mod:`.export` and :mod:`.copy` (on :mod:`.rootfs`,
a container's filesystem reached safely) for the others.
"""

from dockernb.engine.containers.attach import Attachment, DetachScanner, parse_detach_keys
from dockernb.engine.containers.service import ContainerService
from dockernb.engine.containers.types import Container, CreateResult, ExecResult, RunResult

__all__ = [
    "Attachment",
    "Container",
    "ContainerService",
    "CreateResult",
    "DetachScanner",
    "ExecResult",
    "RunResult",
    "parse_detach_keys",
]
