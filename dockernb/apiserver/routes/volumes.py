"""Volume routes: list, create, inspect, remove, prune (layer L8).

The Volume JSON is the engine's (``engine.volumes``, docker 20.10's shape); create answers 201
with the volume; remove 204, 409 when a container uses it, 404 when there is none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Response, json_response
from dockernb.apiserver.router import Router
from dockernb.engine.volumes import volume_inspect
from dockernb.errors import InvalidRequest, NotFound, NotSupported

if TYPE_CHECKING:
    from dockernb.apiserver.app import App

__all__ = ["register"]


def register(router: Router, app: App) -> None:
    volumes = app.engine.volumes

    def list_(req: Request) -> Response:
        found = volumes.list(filters=req.filters())
        # dockerd says null for no warnings; the spec says an array, which costs nothing here
        return json_response({"Volumes": [volume_inspect(v) for v in found], "Warnings": []})

    def create(req: Request) -> Response:
        body = req.json() or {}
        if not isinstance(body, dict):
            raise InvalidRequest("the body must be a JSON object")
        name, driver = body.get("Name") or "", body.get("Driver") or "local"
        labels, opts = body.get("Labels") or {}, body.get("DriverOpts") or {}
        if not isinstance(name, str) or not isinstance(driver, str):
            raise InvalidRequest("json: Name and Driver must be strings")
        for what, value in (("Labels", labels), ("DriverOpts", opts)):
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise InvalidRequest(f"json: cannot unmarshal {what}: want an object of strings")
        try:
            rec = volumes.create(name, driver=driver, labels=labels, options=opts)
        except NotSupported as err:  # dockerd: a driver plugin that is not there is a 404
            raise NotFound(f"create {name}: {err}") from None
        return json_response(volume_inspect(rec), 201)

    def inspect(req: Request) -> Response:
        return json_response(volumes.inspect(req.params["name"]))

    def delete(req: Request) -> Response:
        volumes.remove(req.params["name"], force=req.query_bool("force"))
        return Response(204)

    def prune(req: Request) -> Response:
        report = volumes.prune(filters=req.filters())
        return json_response({"VolumesDeleted": list(report.deleted), "SpaceReclaimed": report.space_reclaimed})

    router.add("GET", "/volumes", list_, name="VolumeList")
    router.add("POST", "/volumes/create", create, name="VolumeCreate")
    router.add("POST", "/volumes/prune", prune, name="VolumePrune")
    router.add("GET", "/volumes/{name}", inspect, name="VolumeInspect")
    router.add("DELETE", "/volumes/{name}", delete, name="VolumeDelete")
