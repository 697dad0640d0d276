"""``slapkit:switch-softwaretype``: the root profile's dispatch on the
software type, running the type's profile as a sub-buildout."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.concealment import conceal, concealed_names, section_items
from slapkit.core.parameter_reads import EVERY_PARAMETER, offer
from slapkit.core.run_state import current, sub_run
from slapkit.recipes.parameters import PREFIX

CONFIGURATION_SECTION = "slap-configuration"
DEFAULT_SOFTWARE_TYPE = "default"
OLD_DEFAULT_SOFTWARE_TYPE = "RootSoftwareInstance"
# The buildout options the sub-buildout runs with, as the main one.
SHARED_BUILDOUT_OPTIONS = (
    "offline",
    "verbosity",
    "newest",
    "directory",
    "eggs-directory",
    "develop-eggs-directory",
)
INHERITED_RECIPE = "slapkit:switch-softwaretype.inherited"
# The cookbook's ``override`` holds a Python dict (SlapOS's fork only).
NOT_IMPLEMENTED = ("override",)


class SwitchSoftwareType(BaseRecipe):
    """Run the profile mapped to the partition's software type, as a
    sub-buildout in the same partition (slapos.cookbook's
    switch-softwaretype).

    Options:
      TYPE    one per software type: ``section:option`` naming the rendered
              profile, e.g. ``default = instance-default:output``. The type
              is ``[slap-configuration] slap-software-type``;
              ``RootSoftwareInstance`` falls back to ``default``.

    The sub-buildout keeps its parts in ``.installed-<part>.cfg``, runs with
    the main buildout's ``offline``, ``verbosity``, ``newest``,
    ``directory``, eggs directories and ``[slap-connection]``, and its
    ``[slap-configuration]`` is this buildout's, values and objects (it is
    not asked again). Switching to another type uninstalls the old type's
    parts (their wrappers go; directories and secrets stay, as always).
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        self.refuse(NOT_IMPLEMENTED, "holds a Python object only SlapOS's zc.buildout fork has")
        try:
            configuration = buildout[CONFIGURATION_SECTION]
            software_type = configuration["slap-software-type"]
        except KeyError:
            raise self.error(
                "recipe",
                f"needs a [{CONFIGURATION_SECTION}] section (slapkit:slapconfiguration or a "
                "form of it) that gives slap-software-type",
            ) from None
        mapped = sorted(key for key in self.option_names() if key != "recipe")
        for key in mapped:
            options.get(key)  # each type is read: buildout would call the others unused
        chosen = software_type.strip() or DEFAULT_SOFTWARE_TYPE
        if chosen not in mapped and chosen == OLD_DEFAULT_SOFTWARE_TYPE:
            chosen = DEFAULT_SOFTWARE_TYPE
        if chosen not in mapped:
            raise self.error(  # named by what gave it: the user's value is only quoted
                "slap-software-type",
                f"the software type {software_type!r} is not mapped "
                f"(mapped: {', '.join(mapped) or 'none'})",
            )
        target = self.opts.required(chosen)
        section, colon, option = target.partition(":")
        if not colon or not section or not option or "$" in target:
            raise self.error(
                chosen,
                f"{target!r} is not of the form section:option (write section:option, "
                "not ${section:option})",
            )
        try:
            self.profile = buildout[section][option]
        except KeyError:
            raise self.error(chosen, f"{target!r}: no such section or option") from None
        self.software_type = chosen

    def install(self) -> list[str]:
        main = self.buildout
        settings: list[tuple[str, str, str]] = [
            ("buildout", "installed", f".installed-{self.name}.cfg")
        ]
        for option in SHARED_BUILDOUT_OPTIONS:
            value = main["buildout"].get(option)
            if value is not None:
                settings.append(("buildout", option, value))
        # zc.buildout 5+ adds a version (and maybe an ABI tag) to the eggs
        # directory it was given: the main one's is final already.
        for option, final in (("eggs-directory-version", ""), ("abi-tag-eggs", "false")):
            if main["buildout"].get(option) is not None:
                settings.append(("buildout", option, final))
        try:
            connection = section_items(main["slap-connection"])
        except KeyError:
            connection = {}
        settings += [("slap-connection", key, value) for key, value in connection.items()]
        settings.append((CONFIGURATION_SECTION, "recipe", INHERITED_RECIPE))
        configuration = main[CONFIGURATION_SECTION]
        handed = {
            "values": section_items(configuration),
            "concealed": concealed_names(configuration),
        }
        with sub_run() as state:
            state.inherited = handed
            try:
                _sub_buildout_class()(main, self.profile, settings).install([])
            finally:
                state.inherited = {}
        return []

    def update(self) -> list[str]:
        return self.install()


def _sub_buildout_class() -> Any:
    import zc.buildout.buildout

    from slapkit import extension

    class SubBuildout(zc.buildout.buildout.Buildout):  # type: ignore[misc]
        """A buildout run by a part: the main one's logging, as it is."""

        def __init__(self, main: Any, config: str, settings: list[tuple[str, str, str]]):
            self._logger = main._logger
            self._log_level = main._log_level
            if extension.loaded_by(main):  # the main run's extension is this one's too
                extension.load(self)
            super().__init__(config, settings)

        def _setup_logging(self) -> None:
            return None

    return SubBuildout


class Inherited(BaseRecipe):
    """``[slap-configuration]`` of a switch-softwaretype sub-buildout: the
    main buildout's, handed over in the process (no value goes through
    buildout syntax, so none is substituted)."""

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        handed = current().inherited
        if not handed:
            raise self.error("recipe", "is set by slapkit:switch-softwaretype for its sub-buildout")
        values: dict[str, str] = handed["values"]
        concealed = tuple(handed["concealed"])
        for key, value in values.items():
            if key != "recipe" and key not in concealed:
                options[key] = value
        if concealed:
            conceal(options, concealed, {key: values[key] for key in concealed}.get)
        offer(
            name,
            {
                **{key: key.removeprefix(PREFIX) for key in values if key.startswith(PREFIX)},
                "configuration": EVERY_PARAMETER,
            },
        )

    def install(self) -> list[str]:
        return []

    def update(self) -> None:
        return None
