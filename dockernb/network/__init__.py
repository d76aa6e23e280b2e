"""Networks, containers' network namespaces and published ports (layer L3).

The engine holds one :class:`~dockernb.network.manager.Networks` per state root. For a container
start (the runtime knows nothing about networks)::

    sb = networks.create_sandbox(SandboxRequest(container_id=..., name=..., hostname=...,
                                                files_dir=layout.container(id), network_mode="bridge",
                                                ports=parse_port_specs(["8089:80"]), ...))
    # sb.plan: NamespacePlan(mode=new|host|join, path=..., userns_path=...) -> OCI linux.namespaces
    # sb.hosts_path / resolv_path / hostname_path -> bind mounts over /etc/hosts, /etc/resolv.conf, /etc/hostname
    pid = runtime.create(...)                  # init created, blocked before exec
    networks.attach(container_id, pid)         # veth + addresses + routes in /proc/PID/ns/net, ports published
    runtime.start(...)
    ...
    networks.teardown(container_id)            # at exit / stop / rm, and after any failed start

``networks.reconcile()`` at engine start; ``networks.ports(id)`` for ``port``/``ps`` (render with
``dockernb.present.ports``); ``networks.inspect(id)`` for ``NetworkSettings``; ``create``/
``networks``/``get``/``remove``/``prune``/``connect``/``disconnect``/``endpoints`` for the
``network`` verbs; ``probes()`` for ``info``. See ``base`` for the lifecycle, ``records`` for the
disk layout, ``bridge`` for the kernel side, ``hub`` for rootless, ``netd`` for the DNS responder
and the port proxy.
"""
