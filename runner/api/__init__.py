"""runner's Python API: every run the command line offers, callable from scripts, notebooks and tests.

::

    from runner.api import Session

    with Session.open("stack.yml", on_event=print) as s:
        report = s.converge()
        s.deploy("hello", strategy="rolling")

See docs/python-api.md. The command line is one client of this module.
"""

from runner.api.reports import (
    CookbookListReport,
    CookbookRow,
    CookbooksReport,
    DependenciesReport,
    DeployReport,
    HistoryReport,
    HostDependencies,
    InstanceRow,
    InstancesReport,
    InstanceStatus,
    LifecycleReport,
    PackageChange,
    StatusReport,
    VendorReport,
    WatchReport,
)
from runner.api.session import Session
from runner.errors import HostError, UserError
from runner.events import (
    Event,
    HostFinished,
    InstanceChange,
    Progress,
    ResourceChanged,
    RunFinished,
    RunStarted,
)

__all__ = [
    "CookbookListReport",
    "CookbookRow",
    "CookbooksReport",
    "DependenciesReport",
    "DeployReport",
    "Event",
    "InstanceChange",
    "HistoryReport",
    "HostDependencies",
    "HostError",
    "HostFinished",
    "InstanceRow",
    "InstanceStatus",
    "InstancesReport",
    "LifecycleReport",
    "PackageChange",
    "Progress",
    "ResourceChanged",
    "RunFinished",
    "RunStarted",
    "Session",
    "StatusReport",
    "VendorReport",
    "WatchReport",
    "UserError",
]
