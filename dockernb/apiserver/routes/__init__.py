"""Engine API routes, one module per resource (layer L8).

A routes module defines ``register(router: Router, app: App) -> None`` and adds its routes
with the spec's operation ids as names; ``app.ROUTE_MODULES`` lists the modules. Handlers
take a :class:`~dockernb.apiserver.request.Request`, call ``app.engine`` once, and return a
``Response``, ``StreamResponse`` or ``Hijack``; they raise ``dockernb.errors`` classes and
never build error bodies themselves.
"""
