"""The dask executor for runner: each host's job of a recipe run on a worker of a Dask cluster."""

__version__ = "0.1.0"
