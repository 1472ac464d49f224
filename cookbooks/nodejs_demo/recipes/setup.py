"""Prepare an app host: the runtime and the base configuration."""

include_recipe("base")

package(["python3"])
directory("/srv", mode="0755")
