"""Install HAProxy (and socat, to talk to its admin socket) and start it with the current backends."""

include_recipe("base")

package(["haproxy", "socat"])
include_recipe("haproxy::configure")
