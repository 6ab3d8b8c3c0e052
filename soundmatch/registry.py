"""Name -> factory registries with a decorator for in-tree code and entry points for plugins.

In-tree modules register themselves with ``@registry.register("name")``; the
registry imports every module of its home package on first use, so adding a
solver is one new file. Other distributions add entries through an entry-point
group (``soundmatch.solvers``, ``soundmatch.synths``, ``soundmatch.losses`` ...):
the entry point may name a class/function (registered under the entry point's
name) or a module whose import registers things with the decorator.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import re
import sys
import traceback
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Any, Generic, TypeVar

from soundmatch.errors import UserError

T = TypeVar("T")


class UnknownNameError(UserError, LookupError):
    """Raised when a name is not in a registry; the message lists what is available."""

    def __init__(self, kind: str, name: str, available: list[str]):
        self.kind, self.name, self.available = kind, name, available
        listing = ", ".join(available) if available else "(none)"
        super().__init__(f"unknown {kind} '{name}'; available: {listing}")


class Registry(Generic[T]):
    """A registry of named factories of one kind.

    Args:
        kind: what the entries are, for messages ("solver", "synth" ...).
        group: the entry-point group other packages use to add entries.
        package: dotted name of the in-tree package whose modules register entries.
    """

    def __init__(self, kind: str, group: str, package: str | None = None):
        self.kind = kind
        self.group = group
        self.package = package
        self._entries: dict[str, T] = {}
        self._origins: dict[str, str] = {}
        self._broken: dict[str, str] = {}  # entry point -> why its plugin cannot be loaded
        self._loaded = False
        self._loading = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@registry.register("cma")`` above a class or function."""

        def decorate(obj: T) -> T:
            self.add(name, obj)
            return obj

        return decorate

    def add(self, name: str, obj: T, origin: str = "builtin") -> None:
        known = self._entries.get(name)
        if known is not None and known is not obj:
            raise ValueError(f"{self.kind} '{name}' is registered twice ({known!r} and {obj!r})")
        if isinstance(obj, type) and hasattr(obj, "name") and not obj.name:
            obj.name = name  # the registered name is the component's name: written once
        self._entries[name] = obj
        self._origins.setdefault(name, origin)

    def _load(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            if self.package is not None:
                pkg = importlib.import_module(self.package)
                for info in pkgutil.iter_modules(pkg.__path__):
                    if not info.name.startswith("_"):
                        importlib.import_module(f"{self.package}.{info.name}")
            for ep in entry_points(group=self.group):
                before = set(self._entries)
                dist = ep.dist.name if ep.dist is not None else "unknown"
                try:
                    obj = ep.load()
                except (Exception, SystemExit) as err:  # one broken plugin must not take every command down
                    why = traceback.format_exception_only(err)[-1].strip()
                    self._broken[ep.name] = f"comes from package '{dist}', which cannot be loaded ({why})"
                    print(
                        f"warning: plugin {self.kind} '{ep.name}' of package '{dist}' is left out: {why} "
                        f"(fix or uninstall '{dist}')",
                        file=sys.stderr,
                    )
                    continue
                for added in set(self._entries) - before:
                    self._origins[added] = f"plugin:{dist}"
                if ep.name not in self._entries and not _is_module(obj):
                    self.add(ep.name, obj, origin=f"plugin:{dist}")
            self._loaded = True
        finally:
            self._loading = False

    def get(self, name: str) -> T:
        """The factory registered as ``name``; UnknownNameError lists the alternatives."""
        self._load()
        try:
            return self._entries[name]
        except KeyError:
            if name in self._broken:
                raise UserError(self.broken(name)) from None
            raise UnknownNameError(self.kind, name, self.names()) from None

    def broken(self, name: str) -> str | None:
        """Why the plugin entry ``name`` cannot be loaded (None when it loaded or does not exist)."""
        self._load()
        reason = self._broken.get(name)
        return None if reason is None else f"plugin {self.kind} '{name}' {reason}"

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def origin(self, name: str) -> str:
        """ "builtin" or "plugin:<distribution>"."""
        self._load()
        return self._origins[name]

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def create(self, name: str, **kwargs: Any) -> Any:
        """Instantiate the factory registered as ``name`` with keyword arguments."""
        factory = self.get(name)
        try:
            inspect.signature(factory).bind(**kwargs)  # type: ignore[arg-type]
        except TypeError as err:
            raise UserError(f"bad options for {self.kind} '{name}': {err}") from None
        return factory(**kwargs)  # type: ignore[operator]

    def from_spec(self, spec: Any, where: str, **extra: Any) -> Any:
        """Instantiate from a config mapping ``{name: ..., **options}`` (``extra`` added to the
        options); ``where`` names the mapping in the error when it has no name (``solver.explore``)."""
        options = dict(spec or {})
        name = options.pop("name", None)
        if name is None:
            raise UserError(f"{where} needs a 'name' key naming the {self.kind}, e.g. {where}.name=...")
        return self.create(str(name), **extra, **options)


def _is_module(obj: object) -> bool:
    return type(obj).__name__ == "module"


def option_defaults(factory: Any) -> dict[str, Any]:
    """The options of a registry entry that have a default, and that default: a dataclass's init
    fields (a default factory called), else its constructor's keyword arguments."""
    if dataclasses.is_dataclass(factory):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(factory):
            if not f.init or f.name.startswith("_"):
                continue
            if f.default is not dataclasses.MISSING:
                out[f.name] = f.default
            elif f.default_factory is not dataclasses.MISSING:
                out[f.name] = f.default_factory()
        return out
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return {}
    return {k: p.default for k, p in params.items() if p.default is not inspect.Parameter.empty}


def plain(text: str) -> str:
    """Docstring markup as a reader sees it: ``:class:`X``` -> X, double backquotes -> the text."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", lambda m: m.group(1).split(".")[-1], text)
    return text.replace("``", "")


def option_help(factory: object) -> dict[str, str]:
    """``{option: text}`` from the ``Args:`` section of the entry's docstring (continuation lines
    joined)."""
    doc = inspect.getdoc(factory) or ""
    if "Args:" not in doc:
        return {}
    helps: dict[str, str] = {}
    current = None
    for line in doc.split("Args:", 1)[1].splitlines():
        found = re.match(r"^\s{4}(\w+):\s*(.*)$", line)
        if found:
            current = found.group(1)
            helps[current] = found.group(2).strip()
        elif current and line.startswith(" " * 8):
            helps[current] += " " + line.strip()
        elif line.strip() and not line.startswith(" "):
            break
    return {k: plain(v) for k, v in helps.items()}
