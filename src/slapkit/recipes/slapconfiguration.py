"""``slapkit:slapconfiguration`` and its ``.serialised`` form: the partition
as the master describes it, under slapos.cookbook's names."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.concealment import conceal, kept_out_of_installed_cfg
from slapkit.core.files import read_regular_file
from slapkit.core.parameter_reads import EVERY_PARAMETER, offer
from slapkit.core.secrets import register_secret
from slapkit.core.served_objects import as_text, remember
from slapkit.core.user_values import register_user_values
from slapkit.instance.answer import InstanceAnswer
from slapkit.instance.sources import SourceError, check_depth
from slapkit.recipes.parameters import PREFIX, buildout_text, is_plain_option_name, secret_texts

# What the cookbook's slapconfiguration reads (both spellings), and what
# "<= slap-connection" brings with it.
CONNECTION_OPTIONS = frozenset(
    {
        "url",
        "server-url",
        "key",
        "key-file",
        "cert",
        "cert-file",
        "computer",
        "computer-id",
        "partition",
        "partition-id",
        "storage-home",
        "software-release-url",
        "shared-part-list",
        "build-time-part-list",
        "requested-state",
        "parameters-file",
        "instance-file",
    }
)
# The master's own keys in its answer, set as options of these names.
MASTER_KEYS = (
    "slap_software_type",
    "slap_computer_partition_id",
    "slap_computer_id",
    "slap_software_release_url",
    "slave_instance_list",
    "timestamp",
)
TITLES = (
    ("instance_title", "instance-title", "UNKNOWN Instance"),
    ("root_instance_title", "root-instance-title", "UNKNOWN"),
    ("root_instance_short_title", "root-instance-short-title", "UNKNOWN"),
)
# slapos format's per-partition resource file (tap and tun addresses…),
# which slapgrid writes into the partition (the buildout directory).
RESOURCE_FILE = ".slapos-resource"
SERIALISED_KEY = "_"


def unwrap(parameters: Any) -> Any:
    """SlapOS's JSON-in-XML form: the ``_`` parameter holds everything.

    Raises SourceError when what it holds nests deeper than parameters may
    (the cap every input from the master has)."""
    from slapkit.instance.sources import MAX_DEPTH, SourceError, check_depth

    if isinstance(parameters, dict) and isinstance(parameters.get(SERIALISED_KEY), str):
        try:
            value = json.loads(parameters[SERIALISED_KEY])
        except RecursionError:
            raise SourceError(f"the '_' parameter nests deeper than {MAX_DEPTH} levels") from None
        except ValueError:
            return parameters
        try:
            check_depth(value)
        except SourceError:
            raise SourceError(f"the '_' parameter nests deeper than {MAX_DEPTH} levels") from None
        return value
    return parameters


def without_empty(parameters: Any) -> Any:
    """An empty (or null) user value counts as no value: the SlapOS rule."""
    if not isinstance(parameters, dict):
        return parameters
    return {key: value for key, value in parameters.items() if value not in ("", None)}


class SlapConfiguration(BaseRecipe):
    """The partition as the master describes it, as options.

    Options (the cookbook's; either spelling):
      url | server-url, key | key-file, cert | cert-file, computer |
      computer-id, partition | partition-id: the master to ask (what
                          ``<= slap-connection`` brings). Under ``slapkit
                          deploy`` the answer comes from the file named by
                          ``instance-file`` (this section's, else
                          ``[slap-connection]``'s), which the runner writes.
      storage-home        where additional disks are mounted.
      configuration.NAME  the default of parameter NAME.

    Outputs: ``configuration.NAME`` per parameter (a name buildout can hold),
    ``configuration`` (all parameters), ``slap-software-type``,
    ``instance-state``, ``instance-title``, ``root-instance-title``,
    ``root-instance-short-title``, ``instance-guid``, ``ipv4`` / ``ipv6``
    (sets), ``ipv4-random`` / ``ipv6-random`` (the lowest), ``storage-dict``,
    ``slave-instance-list``, ``slap-computer-id``,
    ``slap-computer-partition-id``, ``slap-software-release-url``,
    ``timestamp``, and what the partition's ``.slapos-resource`` file holds
    (``tap-ipv4-addr``…). Dicts, lists and sets are JSON text in the options
    and the objects themselves in ``slapkit:jinja2`` ``key`` and ``section``
    contexts. An empty or null user value counts as absent.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        for option in self.option_names():
            if option in CONNECTION_OPTIONS or option.startswith(PREFIX):
                options.get(option)  # read: buildout would call them unused
        self.outputs: dict[str, Any] = {}
        self.secret_options: set[str] = set()
        answer = self._answer()
        parameters = dict(answer.parameter_dict)
        self._describe_partition(answer, parameters)
        from slapkit.instance.sources import SourceError

        try:
            configuration = self.expand(parameters, answer)
        except SourceError as exc:
            raise self.error(self._answer_file()[1], str(exc)) from None
        self.outputs["configuration"] = configuration
        if isinstance(configuration, dict):
            for key, value in configuration.items():
                if is_plain_option_name(key):
                    self.outputs[PREFIX + key] = value
        # Every output is the master's (titles, shared instances) or the
        # partition's (.slapos-resource), not the profile's: a line break in
        # one must not add entries to a line-based option.
        register_user_values(self.outputs)
        offer(
            self.name,
            {
                **{o: o.removeprefix(PREFIX) for o in self.outputs if o.startswith(PREFIX)},
                "configuration": EVERY_PARAMETER,
            },
        )
        self._set_outputs()

    # -- where the answer comes from

    def _answer(self) -> InstanceAnswer:
        from slapkit.instance.answer import answer_from_file, answer_from_master
        from slapkit.instance.master import MasterError
        from slapkit.instance.sources import SourceError

        path, option = self._answer_file()
        try:
            if path:
                return answer_from_file(path)
        except SourceError as exc:
            raise self.error(option, str(exc)) from None
        connection = {
            "server-url": self._either("server-url", "url"),
            "key-file": self._either("key-file", "key"),
            "cert-file": self._either("cert-file", "cert"),
            "computer-id": self._either("computer-id", "computer"),
            "partition-id": self._either("partition-id", "partition"),
        }
        if not connection["server-url"]:
            raise self.error(
                "url",
                "no master to ask: the option is empty, and no instance-file "
                "(slapkit deploy writes one) is named",
            )
        try:
            return answer_from_master(connection)
        except (MasterError, SourceError) as exc:
            raise self.error("url", str(exc)) from None

    def _answer_file(self) -> tuple[str | None, str]:
        own = self.local_path("instance-file")
        if own:
            return own, "instance-file"
        try:
            connection = self.buildout["slap-connection"]
        except KeyError:
            return None, "instance-file"
        path = (connection.get("instance-file") or "").strip()
        return (os.path.join(self.directory, path) if path else None), "instance-file"

    def _either(self, name: str, old_name: str) -> str:
        return self.opts.text(name) or self.opts.text(old_name) or ""

    # -- the partition

    def _describe_partition(self, answer: InstanceAnswer, parameters: dict[str, Any]) -> None:
        outputs = self.outputs
        outputs["instance-state"] = answer.state
        for key in MASTER_KEYS:
            if key in parameters:
                outputs[key.replace("_", "-")] = parameters.pop(key)
        for key, option, default in TITLES:
            outputs[option] = str(parameters.pop(key, default))
        outputs["instance-guid"] = answer.instance_guid
        ipv4: set[str] = set()
        ipv6: set[str] = set()
        for entry in _pairs(parameters.pop("ip_list", None)):
            address = _address(entry[1])
            if address is not None:
                (ipv4 if address.version == 4 else ipv6).add(str(entry[1]))
        parameters.pop("full_ip_list", None)
        parameters.pop("full_address_list", None)
        outputs["ipv4"], outputs["ipv6"] = ipv4, ipv6
        if ipv4:
            outputs["ipv4-random"] = min(ipv4)
        if ipv6:
            outputs["ipv6-random"] = min(ipv6)
        outputs["storage-dict"] = self._storage()
        for key, value in self._resources().items():
            if key not in outputs and key not in self.options:
                outputs[key] = value

    def _storage(self) -> dict[str, str]:
        """Additional disks: ``DATA/NAME`` for each ``storage-home/NAME/<partition>``."""
        self.storage_links: dict[str, str] = {}
        home = self.local_path("storage-home")
        partition = str(
            self.outputs.get("slap-computer-partition-id")
            or self._either("partition-id", "partition")
        )
        if not home or not partition or not os.path.isdir(home):
            return {}
        storage: dict[str, str] = {}
        for name in sorted(os.listdir(home)):
            target = os.path.join(home, name, partition)
            if os.path.isdir(target):
                link = os.path.join(self.directory, "DATA", name)
                self.storage_links[link] = target
                storage[name] = link
        return storage

    def _resources(self) -> dict[str, Any]:
        """What slapgrid's ``.slapos-resource`` of this partition holds: read
        in the buildout directory only (never in a parent, which other users
        may share), as a regular file (no symlink followed, no FIFO opened)."""
        path = os.path.join(os.path.abspath(self.directory), RESOURCE_FILE)
        try:
            data = read_regular_file(path)
        except OSError as exc:
            raise self.error("recipe", f"cannot read {path!r}: {exc.strerror}") from None
        if data is None:
            if os.path.lexists(path):
                raise self.error(
                    "recipe", f"{path!r} is not a regular file (a symlink, a FIFO?): remove it"
                )
            return {}
        try:
            resources = json.loads(data.decode("utf-8"))
            check_depth(resources)
        except SourceError as exc:  # nested deeper than a parameter may be
            raise self.error("recipe", f"cannot use {path!r}: {exc}") from None
        except (ValueError, RecursionError):  # not UTF-8, not JSON, absurdly deep
            raise self.error("recipe", f"cannot use {path!r}: it is not JSON text") from None
        if not isinstance(resources, dict):
            return {}
        return {
            key: value for key, value in _flatten(resources).items() if is_plain_option_name(key)
        }

    # -- the parameters

    def expand(self, parameters: dict[str, Any], answer: InstanceAnswer) -> Any:
        """The ``configuration`` object from the user's parameters."""
        return without_empty(parameters)

    def _set_outputs(self) -> None:
        texts: dict[str, str] = {}
        for option, value in sorted(self.outputs.items()):
            text = buildout_text(as_text(value))
            texts[option] = text
            remember(self.name, option, text, value)
            if kept_out_of_installed_cfg(text):  # a secret, or long
                self.secret_options.add(option)
        for option, text in texts.items():
            if option not in self.secret_options:
                self.options[option] = text
        if self.secret_options:
            names = tuple(sorted(self.secret_options))
            conceal(self.options, names, {name: texts[name] for name in names}.get)

    def hide(self, value: Any, *options: str) -> None:
        """``value`` is a secret: never stored by buildout under ``options``."""
        for text in secret_texts(value):
            register_secret(text)
        self.secret_options.update(options)

    def install(self) -> list[str]:
        for link, target in self.storage_links.items():
            if not os.path.lexists(link):
                try:
                    os.makedirs(os.path.dirname(link), exist_ok=True)
                    os.symlink(target, link)
                except OSError as exc:
                    raise self.error(
                        "storage-home", f"cannot link {link!r}: {exc.strerror}"
                    ) from None
                self.report("linked", f"{link} -> {target}")
        return []  # the links are data: never removed

    def update(self) -> list[str]:
        return self.install()


class SlapConfigurationSerialised(SlapConfiguration):
    """``slapkit:slapconfiguration.serialised``: as ``slapkit:slapconfiguration``,
    the parameters taken out of SlapOS's JSON-in-XML form (the ``_``
    parameter holding a JSON object); ``configuration`` is that object."""

    def expand(self, parameters: dict[str, Any], answer: InstanceAnswer) -> Any:
        unwrapped = unwrap(parameters)
        return without_empty(unwrapped) if isinstance(unwrapped, dict) else {}


def _pairs(value: Any) -> list[tuple[Any, Any]]:
    if not isinstance(value, (list, tuple)):
        return []
    return [
        tuple(entry[:2]) for entry in value if isinstance(entry, (list, tuple)) and len(entry) >= 2
    ]


def _address(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(str(text))
    except ValueError:
        return None


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"tap": {"ipv4_addr": x}}`` as ``{"tap-ipv4-addr": x}`` (the cookbook's names)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = prefix + str(key).replace("_", "-")
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "-"))
        else:
            flat[name] = value
    return flat
