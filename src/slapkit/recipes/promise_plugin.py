"""``slapkit:promise.plugin``: a promise plugin file for slapgrid's launcher."""

from __future__ import annotations

import keyword
import sys
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe


def is_python_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


# What slapos.core's PromiseLauncher gives every promise: a plugin whose
# extra_config_dict names one of them is refused by it ("cannot be used").
LAUNCHER_SETTINGS = frozenset(
    {
        "path", "name", "log-folder", "partition-folder", "debug", "promise-timeout",
        "master-url", "partition-cert", "partition-key", "partition-id", "computer-id",
        "queue", "slapgrid-version",
    }
)  # fmt: skip


class PromisePlugin(BaseRecipe):
    """Write a promise plugin (slapos.cookbook's promise.plugin), the Python
    file that slapgrid's promise launcher imports from ``etc/plugin``.

    Options:
      output     (required) the plugin's path, ``etc/plugin/NAME.py``.
      module     a module holding the promise class, e.g.
                 ``slapos.promise.plugin.check_port_listening``; or
      file       a Python file holding it (run by the plugin).
      class      the class, default ``RunPromise``.
      config-X   the promise's setting X (``extra_config_dict['X']``); not one
                 of the launcher's own (``path``, ``name``, ``partition-id``…),
                 which it refuses at every run.
      eggs       distributions whose paths the plugin puts first on
                 ``sys.path`` (found in buildout's eggs directories).
      mode       default 0644.

    Every value is written as a Python literal, never as code; module and
    class must be Python names.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        self.output = self.required_path("output")
        self.mode = self.opts.mode("mode", 0o644)
        module, path = self.opts.text("module"), self.local_path("file")
        if bool(module) == bool(path):
            raise self.error("module", "give module or file, one of them")
        klass = self.opts.text("class")
        if klass == "RunPromise":
            klass = None
        if klass is not None and not is_python_name(klass):
            raise self.error("class", f"{klass!r} is not a Python class name")
        if module is not None and not all(map(is_python_name, module.split("."))):
            raise self.error("module", f"{module!r} is not a Python module name")
        self.module, self.path, self.klass = module, path, klass
        self.config = {
            key[len("config-") :]: options[key]
            for key in sorted(self.option_names())
            if key.startswith("config-")
        }
        for key in self.config:
            if key in LAUNCHER_SETTINGS:
                raise self.error(
                    f"config-{key}",
                    f"{key!r} is a setting slapgrid's launcher gives every promise: the "
                    "launcher refuses the plugin (use another name)",
                )
        self.eggs = [line for line in self.opts.lines("eggs")]

    def _paths(self) -> list[str]:
        if not self.eggs:
            return []
        # Resolved from what is installed, never from a package index:
        # zc.buildout.easy_install.working_set reads its default index for an
        # egg it does not find (a minute of network under slapgrid's
        # offline = true), whatever the profile says.
        import pkg_resources

        section = self.buildout["buildout"]
        directories = [section["develop-eggs-directory"], section["eggs-directory"]]
        try:
            requirements = [pkg_resources.Requirement.parse(egg) for egg in self.eggs]
            found = pkg_resources.WorkingSet([]).resolve(
                requirements, pkg_resources.Environment([*directories, *sys.path])
            )
        except Exception as exc:  # pkg_resources' own errors, of many kinds
            raise self.error("eggs", f"cannot find them among the installed ones: {exc}") from None
        return [dist.location for dist in found]

    def _content(self) -> str:
        lines = [
            f"# Written by slapkit:promise.plugin for part [{self.name}]; edits are overwritten.",
            "# slapgrid's promise launcher imports it from etc/plugin.",
            "import sys",
            f"sys.path[0:0] = {self._paths()!r}",
            f"extra_config_dict = {self.config!r}",
            "# The launcher has imported slapos.core: the promise imports its own",
            "# from the paths above.",
            "for _name in list(sys.modules):",
            '    if "slapos" in _name or "pkg_resources" in _name:',
            "        del sys.modules[_name]",
        ]
        if self.module is not None:
            lines.append(f"from {self.module} import {self.klass or 'RunPromise'} as RunPromise")
        else:
            lines += [
                f"with open({self.path!r}) as _stream:",
                f"    exec(compile(_stream.read(), {self.path!r}, 'exec'))",
            ]
            if self.klass is not None:
                lines.append(f"RunPromise = {self.klass}")
        return "\n".join(lines) + "\n"

    def install(self) -> list[str]:
        self.write("output", self.output, self._content(), self.mode)
        return [self.output]

    def update(self) -> list[str]:
        return self.install()
