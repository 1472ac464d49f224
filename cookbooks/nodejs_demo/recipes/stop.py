"""Shutdown: stop every app of this instance's layers before the instance goes away."""

for app in apps.values():
    if set(app.layers) & set(instance.layers):
        service(app.name, action="stop", only_if=f"test -e /etc/systemd/system/{app.name}.service")
