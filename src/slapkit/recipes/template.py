"""``slapkit:jinja2``: render a Jinja2 template, write it only when it changed."""

from __future__ import annotations

import builtins
import importlib
import json
import os
import traceback
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.options import PartOptions
from slapkit.core.secrets import section_items

# The builtins a template may call, as slapos.recipe.template offers them.
_BUILTIN_NAMES = (
    "abs all any bin bool bytes callable chr complex dict divmod enumerate filter "
    "float format frozenset hex int isinstance iter len list map max min next oct "
    "ord pow range repr reversed round set sorted str sum tuple zip"
).split()
CONTEXT_TYPES = ("key", "section", "raw", "json", "jsonkey", "import")
IMPORT_TYPES = ("file", "rawfile")

# Compiled template code, by (source, file name, extensions): a profile with
# hundreds of parts rendering the same template compiles it once.
_compiled: dict[tuple[str, str, tuple[str, ...]], Any] = {}
# Loader-less environments, by extensions, shared by the parts that use them.
_environments: dict[tuple[str, ...], Any] = {}


def _template_assert(condition: Any, *message: Any) -> str:
    if condition:
        return ""
    raise AssertionError(*message)


def default_context() -> dict[str, Any]:
    context: dict[str, Any] = {name: getattr(builtins, name) for name in _BUILTIN_NAMES}
    context["assert"] = _template_assert
    import zc.buildout.buildout

    dumps = getattr(zc.buildout.buildout, "dumps", None)
    if dumps is not None:
        context["dumps"] = dumps
    return context


class RenderError(Exception):
    pass


class Jinja2(BaseRecipe):
    """Render a Jinja2 template into ``output``; drop-in for slapos.recipe.template:jinja2.

    Options:
      url          the template file (a path, relative to the buildout
                   directory, or ``file://``); or
      inline       the template text. Exactly one of the two.
      output       (required) the file to write.
      mode         octal mode of the output (default: kept, or 0666 less umask).
      encoding     of template and output, default utf-8.
      context      lines ``TYPE NAME EXPRESSION``; TYPE is ``key``
                   (``section:option``, ``:option`` for this part), ``section``
                   (a whole section as a dict), ``raw`` (the text), ``json``
                   (parsed JSON), ``jsonkey`` (``section:option`` parsed as
                   JSON) or ``import`` (a Python module).
      extensions   Jinja2 extensions, e.g. ``jinja2.ext.do``.
      import-list  lines ``file NAME section:option`` or ``rawfile NAME PATH``:
                   templates the template can ``{% import %}`` or
                   ``{% include %}`` as NAME.
      once         a path: when it exists the template is not rendered again
                   (for a file the service rewrites); created after the
                   first render.

    Undefined names are errors, reported with the template and its line.
    The template is rendered when buildout reads the part, so a broken one
    stops the run before any part writes; the output is written only when
    its content or mode differ.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        opts = self.opts
        url, inline = opts.text("url"), options.get("inline")
        if (url is None) == (not inline):
            raise self.error("url", "give exactly one of 'url' and 'inline'")
        self.source_option = "url" if url else "inline"
        self.template_path = self._local_path("url", url) if url else None
        self.inline = inline.lstrip("\r\n") if inline else None
        self.output = self._local_path("output", opts.required("output"))
        claim(self.output)
        self.mode = opts.mode("mode")
        self.encoding = opts.text("encoding", "utf-8")
        try:
            "".encode(self.encoding)
        except LookupError:
            raise self.error("encoding", f"unknown encoding {self.encoding!r}") from None
        once = opts.text("once")
        self.once = self._local_path("once", once) if once else None
        if self.once and not os.path.isdir(os.path.dirname(self.once)):
            raise self.error("once", f"the directory of {self.once!r} does not exist")
        self.extensions = tuple(opts.text("extensions", "").split())
        self.imports = self._imports()
        self.context = self._context()
        self.rendered: bytes | None = None
        # What the render read, as (inode, mtime, size): an earlier part of
        # the same run may rewrite a template after this part was read.
        self.sources: dict[str, tuple[int, int, int] | None] = {}
        if self.once and os.path.exists(self.once):
            return
        if self.template_path is None or os.path.exists(self.template_path):
            self.rendered = self._render()
        # else: the template is made by an earlier part; rendered at install.

    def _local_path(self, option: str, value: str) -> str:
        if value.startswith("file://"):
            value = value[len("file://"):]
        elif "://" in value:
            raise self.error(option, f"{value!r}: only local files are supported")
        return os.path.join(self.buildout["buildout"]["directory"], value)

    def _key(self, option: str, expression: str) -> str:
        section, sep, key = expression.partition(":")
        if not sep or not key:
            raise self.error(option, f"{expression!r} is not of the form section:option")
        try:
            options = self.buildout[section] if section else self.options
        except KeyError:
            raise self.error(option, f"{expression!r}: no section [{section}]") from None
        value = options.get(key)
        if value is None:
            raise self.error(option, f"{expression!r}: no such option")
        return value

    def _lines(self, option: str, types: tuple[str, ...]) -> list[tuple[str, str, str]]:
        entries, seen = [], set()
        for line in self.opts.lines(option):
            words = line.split(None, 2)
            if len(words) != 3 or words[0] not in types:
                raise self.error(
                    option, f"{line!r} is not of the form TYPE NAME EXPRESSION "
                    f"with TYPE one of {', '.join(types)}"
                )
            if words[1] in seen:
                raise self.error(option, f"{words[1]!r} is given twice")
            seen.add(words[1])
            entries.append((words[0], words[1], words[2]))
        return entries

    def _context(self) -> dict[str, Any]:
        context = default_context()
        handlers: dict[str, Callable[[str], Any]] = {
            "raw": lambda expression: expression,
            "key": lambda expression: self._key("context", expression),
            "json": lambda expression: self._json(expression, expression),
            "jsonkey": lambda expression: self._json(
                expression, self._key("context", expression)
            ),
            "section": self._section,
            "import": self._import_module,
        }
        for kind, name, expression in self._lines("context", CONTEXT_TYPES):
            context[name] = handlers[kind](expression)
        return context

    def _section(self, expression: str) -> dict[str, str]:
        try:
            return section_items(self.buildout[expression])
        except KeyError:  # zc.buildout's MissingSection is one
            raise self.error("context", f"no section [{expression}]") from None

    def _json(self, expression: str, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise self.error("context", f"{expression!r} is not valid JSON: {exc}") from None

    def _import_module(self, expression: str) -> Any:
        try:
            return importlib.import_module(expression)
        except ImportError as exc:
            raise self.error("context", f"cannot import {expression!r}: {exc}") from None

    def _imports(self) -> dict[str, tuple[str, bool]]:
        imports = {}
        for kind, name, expression in self._lines("import-list", IMPORT_TYPES):
            path = self._key("import-list", expression) if kind == "file" else expression
            imports[name] = (self._local_path("import-list", path), kind == "rawfile")
        return imports

    def _environment(self) -> Any:
        import jinja2

        if not self.imports:
            # Without a loader an environment holds nothing of the part's own.
            shared = _environments.get(self.extensions)
            if shared is None:
                shared = _environments[self.extensions] = self._new_environment(None)
            return shared
        return self._new_environment(jinja2.FunctionLoader(self._load_import))

    def _new_environment(self, loader: Any) -> Any:
        import jinja2

        try:
            return jinja2.Environment(
                extensions=list(self.extensions),
                undefined=jinja2.StrictUndefined,
                loader=loader,
                keep_trailing_newline=True,
            )
        except (ImportError, AttributeError) as exc:
            raise self.error("extensions", f"cannot load: {exc}") from None

    def _load_import(self, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        entry = self.imports.get(name)
        if entry is None:
            return None
        path, raw = entry
        self.sources[path] = _signature(path)
        with open(path, encoding=self.encoding) as stream:
            source = stream.read()
        if raw:
            source = "{% raw %}" + source + "{% endraw %}"
        return source, path, lambda: False

    def _render(self) -> bytes:
        self.sources = {}
        if self.template_path is not None:
            self.sources[self.template_path] = _signature(self.template_path)
            try:
                with open(self.template_path, encoding=self.encoding) as stream:
                    source = stream.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise self.error("url", f"cannot read {self.template_path!r}: {exc}") from None
            filename = self.template_path
        else:
            source, filename = self.inline or "", f"<inline template of [{self.name}]>"
        env = self._environment()
        try:
            key = (source, filename, self.extensions)
            code = _compiled.get(key)
            if code is None:
                code = _compiled[key] = env.compile(source, filename=filename)
            template = env.template_class.from_code(env, code, env.make_globals(None), None)
            text = template.render(**self.context)
        except Exception as exc:  # any failure inside the template is the user's
            raise self.error(self.source_option, _describe(exc, filename)) from None
        try:
            return text.encode(self.encoding)
        except UnicodeEncodeError as exc:
            raise self.error("encoding", f"cannot encode the output: {exc}") from None

    def install(self) -> list[str]:
        if self.once and os.path.exists(self.once):
            return []
        if self.rendered is None or self._sources_changed():
            if self.template_path is not None and not os.path.exists(self.template_path):
                raise self.error("url", f"{self.template_path!r} does not exist")
            self.rendered = self._render()
        self.write("output", self.output, self.rendered, self.mode)
        if self.once:
            self.write("once", self.once, b"")
        return []


    def _sources_changed(self) -> bool:
        return any(_signature(path) != seen for path, seen in self.sources.items())


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_mtime_ns, info.st_size


def uninstall(name: str, options: Mapping[str, str]) -> None:
    """The part is gone, or its options changed: remove its output unless a
    current part still writes it, or it is a ``once`` file the service owns."""
    opts = PartOptions(name, options)
    if opts.text("once"):
        return
    remove_unclaimed(name, [opts.text("output") or ""])


def _describe(exc: Exception, filename: str) -> str:
    """What went wrong and where in the template, without a traceback."""
    line = getattr(exc, "lineno", None)
    if line is None:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename == filename:
                line = frame.lineno
                break
    where = f"{filename}, line {line}" if line else filename
    kind = type(exc).__name__
    message = getattr(exc, "message", None) or str(exc)
    return f"rendering failed at {where}: {kind}: {message}"
