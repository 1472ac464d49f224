"""Configure and (re)start the app being deployed; the runner has already unpacked the release.

It runs in `runner deploy` and in the deploy that ends an instance's setup.
Outside a deploy (execute-recipes) every app of this instance's layers is
configured, and nothing is started until /srv/<app>/current holds a release.
"""

settings = node["nodejs_demo"]
if deployment is not None and deployment.app:
    names = [deployment.app]
else:
    names = [a.name for a in apps.values() if set(a.layers) & set(instance.layers)]

for name in names:
    app = apps[name]
    root = f"/srv/{app.name}"
    directory(f"{root}/shared/config", mode="0755", recursive=True)
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
    if deployment is not None and deployment.release:
        # a new (or rolled-back-to) release restarts the app, even when its configuration is unchanged
        file(f"{root}/shared/config/release", content=deployment.release + "\n", mode="0644",
             notifies=("restart", f"service[{app.name}]"))
    service(app.name, action=["enable", "start"], only_if=f"test -e {root}/current/server.py")

# hosts without systemd (containers) run the unit under the service resource's own supervisor
execute("systemctl daemon-reload", action="nothing", only_if="test -d /run/systemd/system")
