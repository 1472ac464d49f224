# ruff: noqa: F821  (a recipe's names, node and line_in_file, come from the runner)
"""Lines of a config file, one line_in_file resource each (the type comes from the runner-example plugin)."""

settings = node["example_lines"]
for line in settings["lines"]:
    line_in_file(f"add {line}", path=settings["path"], line=line)
for line in settings["absent"]:
    line_in_file(f"drop {line}", path=settings["path"], line=line, action="absent")
