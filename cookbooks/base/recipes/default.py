"""Common setup for every host, using every built-in resource type.

Packages; an operators' group and user; a message of the day (template) with a
link to it; kernel settings in a sysctl-style file, applied by an execute when
the host lets them be (a container's /proc/sys is read-only); cron running.
"""

settings = node["base"]

package(settings["packages"])

group(settings["group"])
user(settings["user"], gid=settings["group"], home=f"/home/{settings['user']}", shell="/bin/bash")

directory("/etc/runner", mode="0755")
template(
    "/etc/motd",
    source="motd.j2",
    mode="0644",
    variables={"message": settings["motd"], "layers": instance.layers},
)
link("/etc/runner/motd", to="/etc/motd")

sysctl_file = "/etc/sysctl.d/60-runner.conf"
apply_sysctl = f"sysctl -p {sysctl_file}"
file(
    sysctl_file,
    content="".join(f"{key} = {value}\n" for key, value in sorted(settings["sysctl"].items())),
    mode="0644",
    notifies=("run", f"execute[{apply_sysctl}]"),
)
execute(apply_sysctl, action="nothing", only_if="test -w /proc/sys/net/core/somaxconn")

service("cron", action=["enable", "start"])
