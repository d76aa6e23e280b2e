"""``docker ps`` and the facts other services ask about containers (layer L6).

``list_containers`` follows daemon/list.go (docker 20.10): newest first; without ``all`` only
running (and paused, restarting) containers; ``-n``/``-l`` count all states; filters ``id``,
``name`` (substring/regexp of the name), ``label`` (``k`` or ``k=v``), ``status``, ``exited``
(an exit code), ``ancestor`` (the image or a descendant name), ``before``/``since`` (a
container), ``volume``, ``network``, ``publish``/``expose``. ``ps`` reads two small files per
container and never takes a lock.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from dockernb.errors import InvalidArgument, InvalidFilter, NoSuchContainer
from dockernb.monitor.reconcile import effective
from dockernb.spec.container import ContainerRecord, ContainerSummary
from dockernb.spec.ports import parse_expose
from dockernb.spec.status import ContainerState, ContainerStatus

if TYPE_CHECKING:
    from dockernb.engine.containers.service import ContainerService

__all__ = ["PS_FILTERS", "image_uses", "list_containers", "network_names", "prune_candidates"]

PS_FILTERS = ("ancestor", "before", "exited", "expose", "health", "id", "isolation", "is-task", "label",
              "name", "network", "publish", "since", "status", "volume")
_STATUSES = {str(s) for s in ContainerStatus}
_LIVE = (ContainerStatus.RUNNING, ContainerStatus.PAUSED, ContainerStatus.RESTARTING)


def network_names(record: ContainerRecord) -> tuple[str, ...]:
    mode = record.host_config.network_mode or "default"
    if mode.startswith("container:"):
        return ()
    return ("bridge",) if mode == "default" else (mode,)


def _mounts(record: ContainerRecord) -> tuple[tuple[str, ...], int]:
    names, volumes = [], 0
    for m in record.host_config.mounts:
        if m.type == "volume":
            names.append(m.source)
            volumes += 1
        elif m.type == "bind":
            names.append(m.source)
    return tuple(names), volumes


def _exposed(record: ContainerRecord) -> tuple[tuple[int, str], ...]:
    out: list[tuple[int, str]] = []
    for raw in record.config.exposed_ports:
        try:
            out += parse_expose(raw)
        except InvalidArgument:
            continue
    return tuple(out)


def _summary(svc: ContainerService, record: ContainerRecord, state: ContainerState, size: bool) -> ContainerSummary:
    mounts, local = _mounts(record)
    size_rw = size_root = None
    if size:
        size_rw, size_root = svc.sizes(record)
    bindings = tuple(svc.networks.ports(record.id)) if state.status in _LIVE else ()
    return ContainerSummary(record=record, state=state, size_rw=size_rw, size_root_fs=size_root,
                            bindings=bindings, exposed=_exposed(record), networks=network_names(record),
                            mounts=mounts, local_volumes=local)


class _Filters:
    def __init__(self, svc: ContainerService, filters: Mapping[str, Sequence[str]]) -> None:
        self.svc = svc
        for key in filters:
            if key not in PS_FILTERS:
                raise InvalidFilter(key)
        self.f = {k: list(v) for k, v in filters.items() if v}
        for value in self.f.get("status", []):
            if value not in _STATUSES:
                raise InvalidArgument(f"Invalid filter 'status={value}'")
        self.exited = []
        for value in self.f.get("exited", []):
            try:
                self.exited.append(int(value))
            except ValueError:
                raise InvalidArgument(f"Invalid filter 'exited={value}'") from None
        self.before = self._created_of("before")
        self.since = self._created_of("since")
        self.ancestors = self._ancestors()

    def _created_of(self, key: str) -> float | None:
        values = self.f.get(key)
        if not values:
            return None
        try:
            cid = self.svc.store.resolve(values[-1])
        except NoSuchContainer:
            raise NoSuchContainer(values[-1]) from None
        return self.svc.store.record(cid).created.timestamp()

    def _ancestors(self) -> set[str] | None:
        values = self.f.get("ancestor")
        if not values:
            return None
        ids: set[str] = set()
        for value in values:
            try:
                ids.add(self.svc.images.get(value).id)
            except Exception:  # noqa: BLE001 - docker: an unknown ancestor matches nothing
                continue
        return ids

    @property
    def needs_all(self) -> bool:
        """Filters that look at stopped containers make ps consider every container."""
        return any(k in self.f for k in ("status", "exited"))

    def match(self, record: ContainerRecord, state: ContainerState) -> bool:
        f = self.f
        if "id" in f and not any(record.id.startswith(v) for v in f["id"]):
            return False
        if "name" in f and not any(_name_match(v, record.name) for v in f["name"]):
            return False
        if "status" in f and str(state.status) not in f["status"]:
            return False
        if self.exited and (state.status is not ContainerStatus.EXITED or state.exit_code not in self.exited):
            return False
        if "label" in f and not all(_label_match(v, record.config.labels) for v in f["label"]):
            return False
        if self.ancestors is not None and record.image_id not in self.ancestors:
            return False  # docker compares image ids (the name a container was made with may have moved)
        created = record.created.timestamp()
        if self.before is not None and created >= self.before:
            return False
        if self.since is not None and created <= self.since:
            return False
        if "volume" in f:
            sources = {m.source for m in record.host_config.mounts} | {m.target for m in record.host_config.mounts}
            if not any(v in sources for v in f["volume"]):
                return False
        if "network" in f and not any(v in network_names(record) for v in f["network"]):
            return False
        if "expose" in f or "publish" in f:
            exposed = set(record.config.exposed_ports)
            published = {f"{b.container_port}/{b.protocol}" for b in record.host_config.port_bindings}
            published |= {b.host_port for b in record.host_config.port_bindings}
            for v in f.get("expose", []):
                if (v if "/" in v else f"{v}/tcp") not in exposed:
                    return False
            for v in f.get("publish", []):
                if (v if "/" in v else f"{v}/tcp") not in published and v not in published:
                    return False
        return True


def _name_match(pattern: str, name: str) -> bool:
    try:
        return re.search(pattern, name) is not None or re.search(pattern, "/" + name) is not None
    except re.error:
        return pattern in name


def _label_match(wanted: str, labels: Mapping[str, str]) -> bool:
    key, eq, value = wanted.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def _record(svc: ContainerService, cid: str) -> ContainerRecord:
    """The record, decoded once per version of its file (only rename rewrites it): ps reads 50 of them."""
    path = f"{svc.store.dir}/{cid}/config.json"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NoSuchContainer(cid) from None
    stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
    cached = svc.record_cache.get(cid)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    record = svc.store.record(cid)
    svc.record_cache[cid] = (stamp, record)
    return record


def _load_all(svc: ContainerService) -> Iterator[tuple[ContainerRecord, ContainerState]]:
    store = svc.store
    for cid in store.ids():
        try:
            record = _record(svc, cid)
            yield record, effective(store, cid, store.state(cid))
        except NoSuchContainer:
            continue


def list_containers(
    svc: ContainerService,
    *,
    all: bool = False,  # noqa: A002 - docker's flag
    filters: Mapping[str, Sequence[str]] | None = None,
    limit: int = -1,
    latest: bool = False,
    size: bool = False,
) -> list[ContainerSummary]:
    """Like ``docker ps``; see the module docstring. Raises InvalidFilter, InvalidArgument, NoSuchContainer."""
    flt = _Filters(svc, filters or {})
    if latest:
        limit = 1
    rows = sorted(_load_all(svc), key=lambda rs: rs[0].created, reverse=True)
    show_all = all or limit > 0 or flt.needs_all
    out: list[ContainerSummary] = []
    for record, state in rows:
        if limit > 0 and len(out) >= limit:
            break
        if not show_all and state.status not in _LIVE:
            continue
        if not flt.match(record, state):
            continue
        out.append(_summary(svc, record, state, size))
    return out


def image_uses(svc: ContainerService) -> Iterable[tuple[str, str, bool]]:
    """(container id, image id, running) for every container (what rmi and prune respect)."""
    for record, state in _load_all(svc):
        yield record.id, record.image_id, state.status in _LIVE


def prune_candidates(svc: ContainerService, filters: Mapping[str, Sequence[str]]) -> list[ContainerRecord]:
    """The stopped containers ``container prune`` removes (docker's ``until`` and ``label`` filters)."""
    for key in filters:
        if key not in ("until", "label", "label!"):
            raise InvalidFilter(key)
    until = None
    if filters.get("until"):
        from dockernb.engine.image_query import parse_until

        until = parse_until(filters["until"][-1])
    out = []
    for record, state in _load_all(svc):
        if state.status not in (ContainerStatus.EXITED, ContainerStatus.CREATED, ContainerStatus.DEAD):
            continue
        if until is not None and record.created >= until:
            continue
        labels = record.config.labels
        if not all(_label_match(v, labels) for v in filters.get("label", [])):
            continue
        if any(_label_match(v, labels) for v in filters.get("label!", [])):
            continue
        out.append(record)
    return out
