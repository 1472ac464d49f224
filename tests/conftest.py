pytest_plugins = ["runner.testing"]
