"""A tolerant reader of instance profiles, plain or Jinja2-templated.

Buildout's own parser cannot read a ``.cfg.in``/``.cfg.jinja2`` template
(``{% if %}`` lines, ``[{{ name }}]`` headers), and it loses line numbers
and bytes. This reader only finds sections and option lines, with their line
numbers and where a value starts, so a caller can report on them and
rewrite one value keeping every other byte.

Lines are split where buildout splits them: it reads a profile in text
mode, so a line ends at ``\n``, ``\r\n`` or ``\r`` (Jinja2, rendering a
template, splits at the same three), never at the other characters
``str.splitlines`` breaks at (form feed, vertical tab, ``\x1c``-``\x1e``,
``\x85``, ``\u2028``, ``\u2029``): those stay inside their line.

Every pattern runs in time linear in its line (each is anchored and has one
way to match): a long line of blanks is no denial of service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# zc.buildout's option line: a name that does not start with a blank or a
# bracket, up to the first ``=`` or ``:``. A ``+`` or ``-`` right before it
# makes ``+=``/``-=`` (split off by ``read_sections``). The name is matched greedily
# and the blanks around it stripped afterwards: a lazy name followed by
# ``\s*`` tried every split of a long run of blanks (quadratic time).
_OPTION = re.compile(r"(?P<name>[^\s:=\[][^:=]*)(?P<operator>[:=])[ \t]*(?P<value>.*)")
# A line with its end, as buildout's text-mode reading splits them; the
# last line may have no end.
_LINE = re.compile(r"[^\r\n]*(?:\r\n?|\n)|[^\r\n]+")
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


def buildout_lines(text: str) -> list[str]:
    """``text``'s lines as buildout reads them, each with its line end."""
    return _LINE.findall(text)


def read_sections(text: str) -> list[Section]:
    """The sections of a profile, in order; a section given twice (or by
    branches of a template) appears twice."""
    sections: list[Section] = []
    current: Section | None = None
    last: OptionLine | None = None
    offset = 0
    for number, line in enumerate(buildout_lines(text), start=1):
        start, offset = offset, offset + len(line)
        body = line.rstrip("\r\n")
        if not body.strip() or body.lstrip().startswith(("#", ";")):
            continue
        if _TEMPLATE_LINE.match(body):
            continue
        if body[0].isspace():  # as buildout: any blank starts a continuation
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
        name, operator = option.group("name"), option.group("operator")
        if len(name) > 1 and name[-1] in "+-":
            name, operator = name[:-1], name[-1] + operator
        last = OptionLine(
            name=name.strip(),
            operator=operator,
            value=option.group("value").rstrip(),
            line=number,
            value_start=start + option.start("value"),
        )
        current.options.append(last)
    return sections
