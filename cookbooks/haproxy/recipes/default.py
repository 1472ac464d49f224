"""Install HAProxy and start it with the current backends."""

include_recipe("base")

package("haproxy")
include_recipe("haproxy::configure")
