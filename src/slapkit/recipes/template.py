"""``slapkit:jinja2``: render a Jinja2 template, write it only when it changed."""

from __future__ import annotations

import builtins
import importlib
import json
import os
import traceback
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from slapkit.core import BaseRecipe, serialised
from slapkit.core.claims import claim, remove_unclaimed
from slapkit.core.concealment import section_items
from slapkit.core.files import default_file_mode
from slapkit.core.options import PartOptions
from slapkit.core.parameter_reads import note_read, note_read_whole
from slapkit.core.served_objects import object_behind, with_objects

# The builtins a template may call, as slapos.recipe.template offers them.
_BUILTIN_NAMES = (
    "abs all any bin bool bytes callable chr complex dict divmod enumerate filter "
    "float format frozenset hex int isinstance iter len list map max min next oct "
    "ord pow range repr reversed round set sorted str sum tuple zip"
).split()
CONTEXT_TYPES = ("key", "section", "raw", "json", "jsonkey", "import")
# As slapos.recipe.template: "raw" types give the path itself, the others a
# section:option holding it; a folder lends every file in it.
IMPORT_TYPES = ("file", "rawfile", "folder", "rawfolder")
DEFAULT_IMPORT_DELIMITER = "/"
INLINE_PREFIX = "inline:"  # of the old ``template`` option
# slapos.recipe.template's options this recipe refuses when given.
NOT_IMPLEMENTED = ("md5sum", "update")

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

    # SlapOS's fork has its own, whose form it reads back; on PyPI's
    # zc.buildout, slapkit's, whose form slapkit's recipes read back.
    context["dumps"] = getattr(zc.buildout.buildout, "dumps", None) or serialised.dumps
    return context


class Jinja2(BaseRecipe):
    """Render a Jinja2 template into ``output``; drop-in for slapos.recipe.template:jinja2.

    Options:
      url          the template file (a path, relative to the buildout
                   directory, or ``file://``); or
      inline       the template text. Exactly one of the two.
      output       (required) the file to write. Missing directories above it are made
                   (0777 less the umask) and kept on uninstall, as
                   slapos.recipe.template does; never through a symbolic link
                   in the buildout directory that no part makes.
      template, rendered
                   the older names of ``url`` (or ``inline:`` and the text)
                   and ``output``, used when ``output`` is not given.
      mode         octal mode of the output. Default: 0666 less the umask,
                   0777 less the umask for a ``#!`` script whose interpreter
                   is executable.
      encoding     of template and output, default utf-8.
      context      lines ``TYPE NAME EXPRESSION``; TYPE is ``key``
                   (``section:option``, ``:option`` for this part), ``section``
                   (a whole section as a dict), ``raw`` (the text), ``json``
                   (parsed JSON), ``jsonkey`` (``section:option`` parsed as
                   JSON) or ``import`` (a Python module).
      extensions   Jinja2 extensions, e.g. ``jinja2.ext.do``.
      import-list  lines ``TYPE NAME EXPRESSION``: templates the template
                   can ``{% import %}`` or ``{% include %}`` as NAME. TYPE is
                   ``rawfile`` (EXPRESSION is the path), ``file`` (a
                   ``section:option`` holding it), ``rawfolder`` or
                   ``folder`` (every file in that folder, as
                   ``NAME/sub/file``).
      import-delimiter  between NAME and the path in a folder, default ``/``.
      once         a path: when it exists the template is not rendered again
                   (for a file the service rewrites); created after the
                   first render.

    The output is what slapos.recipe.template:jinja2 renders, byte for byte
    (Jinja2's defaults: a final newline of the template is dropped).
    Undefined names are errors, reported with the template and its line.
    The template is rendered when buildout reads the part, so a broken one
    stops the run before any part writes; the output is written only when
    its content or mode differ.
    """

    def __init__(self, buildout: Any, name: str, options: MutableMapping[str, str]):
        super().__init__(buildout, name, options)
        self.refuse(
            NOT_IMPLEMENTED, "slapos.recipe.template's option is not implemented by slapkit"
        )
        opts = self.opts
        url, inline = opts.text("url"), options.get("inline")
        self.source_option, self.output_option = "url" if url else "inline", "output"
        if opts.text("output") is None and opts.text("rendered") is not None:
            url, inline = self._old_style_options()
        elif (url is None) == (not inline):
            raise self.error("url", "give exactly one of 'url' and 'inline'")
        self.template_path = self._local_path(self.source_option, url) if url else None
        self.inline = inline.lstrip("\r\n") if inline else None
        self.output = self.output_path(
            self.output_option,
            self._local_path(self.output_option, opts.required(self.output_option)),
        )
        claim(self.output)
        self.mode = opts.mode("mode")
        self.encoding = opts.text("encoding", "utf-8")
        try:
            "".encode(self.encoding)
        except LookupError:
            raise self.error("encoding", f"unknown encoding {self.encoding!r}") from None
        once = opts.path("once")
        # Its directory may be made by an earlier part of this run: checked at install.
        self.once = self._local_path("once", once) if once else None
        self.extensions = tuple(opts.text("extensions", "").split())
        self.import_delimiter = opts.text("import-delimiter", DEFAULT_IMPORT_DELIMITER)
        self.imports = self._imports()
        self.env = self._environment()  # a bad extension is an error before anything is written
        self.context = self._context()
        # A compiled template to keep for the next runs, once the output is written.
        self.rendered: bytes | None = None
        # What the render read, as (inode, mtime, size): an earlier part of
        # the same run may rewrite a template after this part was read.
        self.sources: dict[str, tuple[int, int, int] | None] = {}
        if self.once and os.path.exists(self.once):
            return
        if self.template_path is None or os.path.exists(self.template_path):
            self.rendered = self._render()
        # else: the template is made by an earlier part; rendered at install.

    def _old_style_options(self) -> tuple[str | None, str | None]:
        """``template`` and ``rendered``, as older slapos.recipe.template profiles say."""
        if self.opts.text("url") is not None or self.options.get("inline"):
            raise self.error(
                "rendered",
                "give either 'template' and 'rendered', or 'url' (or 'inline') and 'output'",
            )
        self.source_option, self.output_option = "template", "rendered"
        template = self.opts.required("template")
        if template.startswith(INLINE_PREFIX):
            return None, template[len(INLINE_PREFIX) :] or None
        return template, None

    def _local_path(self, option: str, value: str) -> str:
        if value.startswith("file://"):
            value = value[len("file://") :]
        elif "://" in value:
            raise self.error(option, f"{value!r}: only local files are supported")
        return str(self.local_path(option, value))

    def _key(self, option: str, expression: str) -> str:
        """The option's text; a profile's ``!py!`` value as the text of what it
        stands for (a path, or JSON for ``jsonkey``)."""
        section, key, text = self._lookup(option, expression)
        try:
            return serialised.option_text(text, section or self.name, key)
        except serialised.NotALiteral as exc:
            raise self.error(option, f"{expression!r}: {exc}") from None

    def _key_object(self, expression: str) -> Any:
        """A ``key`` context's value: the object behind the option, if any
        (slapkit:slapconfiguration's dicts and sets), else its text."""
        section, key, text = self._lookup("context", expression)
        try:
            return object_behind(section or self.name, key, text)
        except serialised.NotALiteral as exc:
            raise self.error("context", f"{expression!r}: {exc}") from None

    def _lookup(self, option: str, expression: str) -> tuple[str, str, str]:
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
        note_read(section or self.name, key)
        return section, key, value

    def _lines(self, option: str, types: tuple[str, ...]) -> list[tuple[str, str, str]]:
        entries, seen = [], set()
        for line in self.opts.lines(option):
            words = line.split(None, 2)
            if len(words) != 3 or words[0] not in types:
                raise self.error(
                    option,
                    f"{line!r} is not of the form TYPE NAME EXPRESSION "
                    f"with TYPE one of {', '.join(types)}",
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
            "key": self._key_object,
            "json": lambda expression: self._json(expression, expression),
            "jsonkey": lambda expression: self._json(expression, self._key("context", expression)),
            "section": self._section,
            "import": self._import_module,
        }
        for kind, name, expression in self._lines("context", CONTEXT_TYPES):
            context[name] = handlers[kind](expression)
        return context

    def _section(self, expression: str) -> dict[str, Any]:
        try:
            items = section_items(self.buildout[expression])
            note_read_whole(expression)
            return with_objects(expression, items)
        except KeyError:  # zc.buildout's MissingSection is one
            raise self.error("context", f"no section [{expression}]") from None
        except serialised.NotALiteral as exc:
            raise self.error("context", f"section {expression!r}: {exc}") from None

    def _json(self, expression: str, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise self.error("context", f"{expression!r} is not valid JSON: {exc}") from None

    def _import_module(self, expression: str) -> Any:
        if expression.startswith("."):
            raise self.error(
                "context", f"cannot import {expression!r}: give an absolute module name"
            )
        try:
            return importlib.import_module(expression)
        except Exception as exc:  # the module's own import-time failure too
            raise self.error(
                "context", f"cannot import {expression!r}: {type(exc).__name__}: {exc}"
            ) from None

    def _imports(self) -> dict[str, tuple[str, bool]]:
        """NAME: (path, is a folder)."""
        imports = {}
        for kind, name, expression in self._lines("import-list", IMPORT_TYPES):
            if self.import_delimiter in name:
                raise self.error(
                    "import-list", f"{name!r} holds the import delimiter {self.import_delimiter!r}"
                )
            path = expression if kind.startswith("raw") else self._key("import-list", expression)
            imports[name] = (
                os.path.normpath(self._local_path("import-list", path)),
                kind.endswith("folder"),
            )
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
            )
        except Exception as exc:  # "." or "jinja2": not an extension class
            raise self.error(
                "extensions",
                f"cannot load {' '.join(self.extensions)!r}: {type(exc).__name__}: {exc}",
            ) from None

    def _import_path(self, name: str) -> str | None:
        """The file that ``{% import name %}`` means, or None."""
        prefix, _, rest = name.partition(self.import_delimiter)
        entry = self.imports.get(prefix)
        if entry is None:
            return None
        base, folder = entry
        if not folder:
            return base if not rest else None
        if not rest:
            return None
        path = os.path.normpath(os.path.join(base, *rest.split(self.import_delimiter)))
        return path if path.startswith(base.rstrip(os.sep) + os.sep) else None

    def _load_import(self, name: str) -> tuple[str, str, Callable[[], bool]] | None:
        path = self._import_path(name)
        if path is None or not os.path.isfile(path):
            return None  # Jinja2 reports: TemplateNotFound: name
        self.sources[path] = _signature(path)
        with open(path, encoding=self.encoding) as stream:
            source = stream.read()
        return source, path, lambda: False

    def _render(self) -> bytes:
        self.sources = {}
        if self.template_path is not None:
            self.sources[self.template_path] = _signature(self.template_path)
            try:
                with open(self.template_path, encoding=self.encoding) as stream:
                    source = stream.read()
            except (OSError, ValueError) as exc:  # UnicodeError is a ValueError
                raise self.error(
                    self.source_option, f"cannot read {self.template_path!r}: {exc}"
                ) from None
            filename = self.template_path
        else:
            source, filename = self.inline or "", f"<inline template of [{self.name}]>"
        env = self.env
        try:
            key = (source, filename, self.extensions)
            code = _compiled.get(key)
            if code is None:
                # Compiled here, never loaded from the partition: code kept on
                # disk there could have been written by anything running as
                # the partition's user, which can also read any key that
                # would authenticate it.
                code = _compiled[key] = env.compile(source, filename=filename)
            template = env.template_class.from_code(env, code, env.make_globals(None), None)
            text = template.render(**self.context)
        except Exception as exc:  # any failure inside the template is the user's
            raise self.error(self.source_option, _describe(exc, filename)) from None
        try:
            encoded: bytes = text.encode(self.encoding)
            return encoded
        except (ValueError, LookupError) as exc:  # UnicodeError; idna's own errors
            raise self.error(
                "encoding", f"cannot encode the output in {self.encoding}: {exc}"
            ) from None

    def install(self) -> list[str]:
        if self.once and os.path.exists(self.once):
            return []
        if self.rendered is None or self._sources_changed():
            if self.template_path is not None and not os.path.exists(self.template_path):
                raise self.error(self.source_option, f"{self.template_path!r} does not exist")
            self.rendered = self._render()
        mode = self.mode if self.mode is not None else default_file_mode(self.rendered)
        if self.once and not os.path.isdir(os.path.dirname(self.once)):
            raise self.error("once", f"the directory of {self.once!r} does not exist")
        self.make_parent_directory(self.output_option, self.output)
        self.write(self.output_option, self.output, self.rendered, mode)
        if self.once and not os.path.lexists(self.once):
            # Often the output itself: only made when missing, never truncated.
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
    remove_unclaimed(name, [opts.text("output") or opts.text("rendered") or ""])


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
