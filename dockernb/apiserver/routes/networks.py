"""Network routes: list, inspect, create, remove, connect, disconnect, prune (layer L8).

The Network JSON is the engine's (``engine.networks.inspect``: docker 20.10's shape); create
answers 201 ``{"Id", "Warning"}``; remove 204; a predefined network's removal is 403 and a
network in use 403, as in dockerd.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dockernb.apiserver.createspec import go_str
from dockernb.apiserver.request import Request
from dockernb.apiserver.responses import Response, json_response
from dockernb.apiserver.router import Router
from dockernb.errors import InvalidRequest

if TYPE_CHECKING:
    from dockernb.apiserver.app import App

__all__ = ["register"]


def _body(req: Request) -> dict[str, Any]:
    body = req.json(required=True)
    if not isinstance(body, dict):
        raise InvalidRequest("the body must be a JSON object")
    return body


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f"json: cannot unmarshal {type(value).__name__} into Go struct field {key}")
    return value


def _str_map(data: dict[str, Any], key: str) -> dict[str, str]:
    value = _obj(data, key)
    if not all(isinstance(v, str) for v in value.values()):
        raise InvalidRequest(f"json: cannot unmarshal {key}: want an object of strings")
    return value


def register(router: Router, app: App) -> None:
    nets = app.engine.networks

    def list_(req: Request) -> Response:
        return json_response([nets.inspect(n.id) for n in nets.list(filters=req.filters())])

    def inspect(req: Request) -> Response:
        return json_response(nets.inspect(req.params["id"]))

    def create(req: Request) -> Response:
        body = _body(req)
        name = go_str(body, "Name")
        if not name:
            raise InvalidRequest("network name must not be empty")
        ipam = _obj(body, "IPAM")
        configs = ipam.get("Config") or []
        if not isinstance(configs, list) or not all(isinstance(c, dict) for c in configs):
            raise InvalidRequest("json: cannot unmarshal IPAM.Config: want a list of objects")
        subnet = gateway = ""
        if configs:
            subnet, gateway = go_str(configs[0], "Subnet"), go_str(configs[0], "Gateway")
        for key in ("Internal", "Attachable", "CheckDuplicate", "EnableIPv6"):
            if body.get(key) is not None and not isinstance(body[key], bool):
                raise InvalidRequest(f"json: cannot unmarshal {key}: want a boolean")
        rec = nets.create(name, driver=go_str(body, "Driver") or "bridge", subnet=subnet, gateway=gateway,
                          internal=bool(body.get("Internal")), attachable=bool(body.get("Attachable")),
                          labels=_str_map(body, "Labels"), options=_str_map(body, "Options"))  # fmt: skip
        return json_response({"Id": rec.id, "Warning": ""}, 201)

    def delete(req: Request) -> Response:
        nets.remove(req.params["id"])
        return Response(204)

    def connect(req: Request) -> Response:
        body = _body(req)
        container = go_str(body, "Container")
        if not container:
            raise InvalidRequest("a container is required")
        endpoint = _obj(body, "EndpointConfig")
        aliases = endpoint.get("Aliases") or []
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise InvalidRequest("json: cannot unmarshal Aliases: want a list of strings")
        ip = go_str(_obj(endpoint, "IPAMConfig"), "IPv4Address")
        nets.connect(req.params["id"], container, aliases=aliases, ipv4_address=ip)
        return Response(200)

    def disconnect(req: Request) -> Response:
        body = _body(req)
        container = go_str(body, "Container")
        if not container:
            raise InvalidRequest("a container is required")
        nets.disconnect(req.params["id"], container, force=bool(body.get("Force")))
        return Response(200)

    def prune(req: Request) -> Response:
        req.filters()
        return json_response({"NetworksDeleted": nets.prune()})

    router.add("GET", "/networks", list_, name="NetworkList")
    router.add("POST", "/networks/create", create, name="NetworkCreate")
    router.add("POST", "/networks/prune", prune, name="NetworkPrune")
    router.add("GET", "/networks/{id}", inspect, name="NetworkInspect")
    router.add("DELETE", "/networks/{id}", delete, name="NetworkDelete")
    router.add("POST", "/networks/{id}/connect", connect, name="NetworkConnect")
    router.add("POST", "/networks/{id}/disconnect", disconnect, name="NetworkDisconnect")
