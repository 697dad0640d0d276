"""Where instance parameters come from: a file (JSON or SlapOS XML) or the master."""

from __future__ import annotations

import json
import math
import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping
from typing import Any

# Keys the master adds to an instance's parameters that are not the user's.
SLAP_KEYS = frozenset(
    {
        "ip_list",
        "full_ip_list",
        "full_address_list",
        "slave_instance_list",
        "timestamp",
        "instance_title",
        "root_instance_title",
        "root_instance_short_title",
        "instance_guid",
    }
)


# Deeper parameters are refused: nothing real nests this deep, and Python's
# recursion limit would otherwise end the run in a traceback.
MAX_DEPTH = 64


class SourceError(Exception):
    """A parameter source that cannot be read; the message says why."""


def check_depth(value: Any, limit: int = MAX_DEPTH) -> None:
    """Refuse a value nested deeper than ``limit`` (without recursing)."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise SourceError(f"the parameters nest deeper than {limit} levels")
        if isinstance(item, dict):
            stack.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)


def parse_parameters(text: str) -> dict[str, Any]:
    """A JSON object, or SlapOS instance XML, as a dict (``_`` decoded)."""
    stripped = text.lstrip()
    if stripped.startswith("<"):
        parameters: dict[str, Any] = parse_instance_xml(stripped)
    else:
        parameters = _load_json(text) if stripped else {}
        if not isinstance(parameters, dict):
            raise SourceError("JSON parameters must be an object")
    return decode_serialised(parameters)


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value (JSON has no NaN or Infinity)")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} is too big for a JSON number a reader takes")
    return value


def _load_json(text: str) -> Any:
    try:
        # NaN and Infinity are Python's extension of JSON: what they would
        # pass on, a strict reader (a master, a script reading --json) refuses.
        value = json.loads(text, parse_constant=_not_json, parse_float=_finite)
    except RecursionError:
        raise SourceError(f"the parameters nest deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise SourceError(f"neither SlapOS XML nor JSON: {exc}") from None
    check_depth(value)
    return value


def parse_instance_xml(text: str) -> dict[str, str]:
    try:
        root = ElementTree.fromstring(text)
    except RecursionError:
        raise SourceError(f"the XML nests deeper than {MAX_DEPTH} levels") from None
    except ElementTree.ParseError as exc:
        raise SourceError(f"invalid XML: {exc}") from None
    if root.tag != "instance":
        raise SourceError(f"the XML root is <{root.tag}>, expected <instance>")
    parameters = {}
    for element in root:
        if element.tag != "parameter" or "id" not in element.attrib:
            raise SourceError(f"unexpected <{element.tag}> in <instance>")
        parameters[element.attrib["id"]] = element.text or ""
    return parameters


def decode_serialised(parameters: dict[str, Any]) -> dict[str, Any]:
    """SlapOS's serialised form: a ``_`` parameter holding a JSON object."""
    if "_" not in parameters:
        return parameters
    rest = {k: v for k, v in parameters.items() if k != "_"}
    serialised = parameters["_"]
    if isinstance(serialised, str):
        try:
            serialised = _load_json(serialised)
        except SourceError as exc:
            raise SourceError(f"the '_' parameter: {exc}") from None
    if not isinstance(serialised, dict):
        raise SourceError("the '_' parameter must hold a JSON object")
    rest.update(serialised)
    return rest


def read_parameters_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except OSError as exc:
        raise SourceError(f"cannot read {path!r}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise SourceError(
            f"{path!r} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None
    return parse_parameters(text)


def fetch_from_master(connection: Mapping[str, str]) -> dict[str, Any]:
    """The instance's parameters as the master gives them, through slapos.core."""
    from slapkit.instance.master import partition_of

    partition = partition_of(connection)
    try:
        parameters = dict(partition.getInstanceParameterDict())
    except Exception as exc:  # slapos.core raises many kinds; all mean "no answer"
        raise SourceError(
            f"cannot read parameters from the master at "
            f"{connection.get('server-url')!r}: {type(exc).__name__}: {exc}"
        ) from None
    user = {
        key: value
        for key, value in parameters.items()
        if key not in SLAP_KEYS and not key.startswith("slap_")
    }
    return decode_serialised(user)
