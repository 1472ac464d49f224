"""Point HAProxy at the instances of the backend layer (runs on every topology change)."""

settings = node["haproxy"]
backends = [
    {"name": i.hostname, "address": i.address}
    for i in instances
    if settings["backend_layer"] in i.layers and i.status == "online" and i.address
]

template(
    "/etc/haproxy/haproxy.cfg",
    source="haproxy.cfg.j2",
    mode="0644",
    variables={"settings": settings, "backends": backends},
    notifies=("reload", "service[haproxy]"),
)
service("haproxy", action=["enable", "start"])
