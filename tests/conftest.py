pytest_plugins = ["runner.testing"]


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: needs a Docker engine (tests start containers as hosts)")
