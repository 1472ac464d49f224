"""Stop the app being removed and drop its unit; the runner then deletes /srv/<app>."""

if deployment is not None and deployment.app:
    unit = f"/etc/systemd/system/{deployment.app}.service"
    service(deployment.app, action=["stop", "disable"], only_if=f"test -e {unit}")
    file(unit, action="delete")
