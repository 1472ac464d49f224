"""Configure and (re)start the app being deployed; the runner has already unpacked the release."""

app = apps[deployment.app]
root = f"/srv/{app.name}"
settings = node["nodejs_demo"]

template(
    f"{root}/shared/config/app.env",
    source="app.env.j2",
    mode="0600",
    owner=settings["user"],
    sensitive=True,
    variables={"env": app.environment, "port": settings["port"]},
    notifies=("restart", f"service[{app.name}]"),
)
template(
    f"/etc/systemd/system/{app.name}.service",
    source="app.service.j2",
    mode="0644",
    variables={"app": app.name, "root": root, "user": settings["user"]},
    notifies=[("run", "execute[systemctl daemon-reload]", "immediately"), ("restart", f"service[{app.name}]")],
)
execute("systemctl daemon-reload", action="nothing")
service(app.name, action=["enable", "start"])
