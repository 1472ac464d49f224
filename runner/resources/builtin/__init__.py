"""The built-in resource types: file, directory, template, link, execute, package, service, user, group.

Registered by :mod:`runner.resources.builtin.plugin` through the same hook as a plugin's.
"""

from runner.resources.builtin.directory import Directory
from runner.resources.builtin.execute import Execute
from runner.resources.builtin.file import File
from runner.resources.builtin.group import Group
from runner.resources.builtin.link import Link
from runner.resources.builtin.package import Package
from runner.resources.builtin.service import Service
from runner.resources.builtin.template import Template
from runner.resources.builtin.user import User

BUILTIN_TYPES = (File, Directory, Template, Link, Execute, Package, Service, User, Group)

__all__ = ["BUILTIN_TYPES", "Directory", "Execute", "File", "Group", "Link", "Package", "Service", "Template",
           "User"]
