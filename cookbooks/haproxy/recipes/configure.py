"""Point HAProxy at the instances of the backend layer (runs on every topology change).

Servers are named by instance name, the name runner's haproxy balancer uses
to drain and enable them. A reload keeps the servers' admin states (a drained
server stays drained): right before it, the current states are saved to the
server-state file that the new HAProxy process loads.
"""

import shlex

settings = node["haproxy"]
backends = [
    {"name": i.name, "address": i.address}
    for i in instances
    if settings["backend_layer"] in i.layers and i.status == "online" and i.address
]

directory("/run/haproxy")
file("/usr/local/sbin/runner-haproxy-save-state", source="save-server-state", mode="0755")
save_state = " ".join(shlex.quote(arg) for arg in ("/usr/local/sbin/runner-haproxy-save-state",
                                                   settings["admin_socket"], "/etc/haproxy/haproxy.cfg",
                                                   settings["state_file"]))
execute(save_state, action="nothing")
template(
    "/etc/haproxy/haproxy.cfg",
    source="haproxy.cfg.j2",
    mode="0644",
    variables={"settings": settings, "backends": backends},
    notifies=[("run", f"execute[{save_state}]"), ("reload", "service[haproxy]")],
)
service("haproxy", action=["enable", "start"])
