"""A tolerant reader of instance profiles, plain or Jinja2-templated.

Buildout's own parser cannot read a ``.cfg.in``/``.cfg.jinja2`` template
(``{% if %}`` lines, ``[{{ name }}]`` headers), and it loses line numbers
and bytes. This reader only finds sections and option lines, with their line
numbers and where a value starts, so a caller can report on them and
rewrite one value keeping every other byte.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# zc.buildout's option line: a name that does not start with a blank or a
# bracket, then ``=`` or ``:`` (``+=``/``-=`` are names ending in + or -).
_OPTION = re.compile(r"(?P<name>[^\s:=\[][^:=]*?)\s*(?P<operator>[+-]?[:=])[ \t]*(?P<value>.*)")
_SECTION = re.compile(r"\[(?P<name>[^\]\n]+)\]")
_TEMPLATE_LINE = re.compile(r"\s*(\{%|\{#|#}|%})")


@dataclass
class OptionLine:
    name: str
    operator: str
    value: str
    line: int  # 1-based
    value_start: int  # offset of the value in the whole text
    continued: bool = False  # more lines follow (indented)


@dataclass
class Section:
    name: str
    line: int
    options: list[OptionLine] = field(default_factory=list)

    def get(self, name: str) -> OptionLine | None:
        for option in reversed(self.options):
            if option.name == name:
                return option
        return None

    @property
    def recipe(self) -> OptionLine | None:
        return self.get("recipe")


def read_sections(text: str) -> list[Section]:
    """The sections of a profile, in order; a section given twice (or by
    branches of a template) appears twice."""
    sections: list[Section] = []
    current: Section | None = None
    last: OptionLine | None = None
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        start, offset = offset, offset + len(line)
        body = line.rstrip("\r\n")
        if not body.strip() or body.lstrip().startswith(("#", ";")):
            continue
        if _TEMPLATE_LINE.match(body):
            continue
        if body[0] in " \t":
            if last is not None:
                last.continued = True
            continue
        header = _SECTION.match(body)
        if header:
            current = Section(header.group("name").strip(), number)
            sections.append(current)
            last = None
            continue
        option = _OPTION.match(body)
        if option is None or current is None:
            last = None
            continue
        last = OptionLine(
            name=option.group("name").strip(),
            operator=option.group("operator"),
            value=option.group("value").rstrip(),
            line=number,
            value_start=start + option.start("value"),
        )
        current.options.append(last)
    return sections
