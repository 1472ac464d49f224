"""Common setup for every host: a few packages and a message of the day."""

package(node["base"]["packages"])

template(
    "/etc/motd",
    source="motd.j2",
    mode="0644",
    variables={"message": node["base"]["motd"], "layers": instance.layers},
)
