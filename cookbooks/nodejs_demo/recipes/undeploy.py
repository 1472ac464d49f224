"""Stop the app being removed; the runner then deletes /srv/<app>."""

app = apps[deployment.app]

service(app.name, action=["stop", "disable"])
file(f"/etc/systemd/system/{app.name}.service", action="delete")
