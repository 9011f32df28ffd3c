"""One generic registry for datasets, models, explainers and metrics.

Entries are registered by name with a decorator; unknown names get a "did you mean" answer;
duplicate names are refused. An entry may be registered lazily as ``"module:attribute"`` so that
heavy imports (torch, transformers) happen only when the entry is used.

Plugins: a name written ``"package.module:Name"`` resolves to that attribute of an importable module,
and installed packages add entries through entry points (group ``xrec_bench.<kind>s``, read on the
first question about names). :meth:`Registry.plugin` gives such an entry's provenance (distribution,
version, entry), which the harness writes into its cells.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import logging
import re
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

log = logging.getLogger(__name__)

#: a plugin name: ``package.module:Attribute`` (the attribute may be dotted, e.g. ``Outer.Inner``)
_IMPORT_NAME = re.compile(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*")

T = TypeVar("T")


class UnknownNameError(KeyError):
    """Raised for a name that no registry entry carries. ``str()`` gives the full message."""

    def __str__(self) -> str:  # KeyError quotes its argument; we want the sentence as written
        return str(self.args[0]) if self.args else ""


class PluginError(UnknownNameError):
    """A ``module:Name`` or entry-point component that cannot be loaded; the message says why and what to do."""


def is_import_name(name: object) -> bool:
    """Whether ``name`` is written ``package.module:Name`` (a plugin named by its import path)."""
    return isinstance(name, str) and _IMPORT_NAME.fullmatch(name) is not None


class Registry(Generic[T]):
    """A named collection of components of one kind (``kind`` is used in messages).

    A registry takes plugins only when given ``check``: ``check(obj)`` returns None for an acceptable
    entry, else what is wrong with it (e.g. "not an Explainer subclass"), and no other registry imports
    a module because a name says so. ``entry_points`` is the entry-point group read for installed
    plugins (None: none).
    """

    def __init__(self, kind: str, *, check: Callable[[Any], str | None] | None = None,
                 entry_points: str | None = None, name_of: Callable[[Any], str | None] | None = None) -> None:
        if entry_points is not None and check is None:
            raise ValueError("A registry that reads entry points needs a 'check' for what they load.")
        self.kind = kind
        #: the name a component declares itself (e.g. its class's ``name``): :meth:`add` registers it under
        #: that name, and a lazily registered entry must carry the name it was registered under
        self._name_of = name_of
        self._entries: dict[str, T | str] = {}
        self._check = check
        self._group = entry_points
        self._plugins: dict[str, dict[str, str]] = {}  # name -> {package, version, entry}
        self._entry_points_loaded = entry_points is None

    def register(self, name: str, obj: T | str | None = None) -> Callable[[T], T] | T | str:
        """Register ``obj`` under ``name``; used bare as a decorator when ``obj`` is omitted.

        ``obj`` may be a ``"package.module:attribute"`` string, resolved on first :meth:`get`. A name an
        installed package's entry point took first is given back to the registered component.
        """
        self._refuse_duplicate(name)
        if obj is not None:
            self._entries[name] = obj
            return obj

        def decorator(target: T) -> T:
            self._refuse_duplicate(name)
            self._entries[name] = target
            return target

        return decorator

    def add(self, obj: T) -> T:
        """Register ``obj`` under the name it declares (usable as a class decorator): the name is written once."""
        if self._name_of is None:
            raise TypeError(f"The {self.kind} registry takes names explicitly: use register(name, obj).")
        name = self._name_of(obj)
        if not name:
            raise ValueError(f"Cannot register {obj!r} as a {self.kind}: it declares no name.")
        self.register(name, obj)
        return obj

    def _refuse_duplicate(self, name: str) -> None:
        if name in self._plugins and not is_import_name(name):  # an entry point loaded earlier: it yields
            log.warning("the %s entry point %r (%s) is shadowed by a registered %s of that name",
                        self._group, name, self._plugins[name].get("entry"), self.kind)
            del self._entries[name], self._plugins[name]
        elif name in self._entries:
            raise ValueError(f"A {self.kind} named {name!r} is already registered; names must be unique.")

    def _takes_import_name(self, name: object) -> bool:
        return self._check is not None and is_import_name(name)

    def is_registered(self, name: str) -> bool:
        """Whether ``name`` was registered by :meth:`register` (entry points and import paths not counted)."""
        return name in self._entries and name not in self._plugins

    def get(self, name: str) -> T:
        """Return the entry called ``name``, importing it if it was registered lazily.

        A name written ``package.module:Name`` that is not registered is imported, checked and kept
        (a :class:`PluginError` says why it cannot be used)."""
        self._load_entry_points()
        if name not in self._entries:
            if not self._takes_import_name(name):
                raise UnknownNameError(self.unknown_message(name))
            self._entries[name] = self._resolve(name, name)
        entry = self._entries[name]
        if isinstance(entry, str):
            where = "entry point" if name in self._plugins else "registered"
            entry = self._resolve(entry, name, where=where)
            self._entries[name] = entry
        return entry  # type: ignore[return-value]

    def plugin(self, name: str) -> dict[str, str] | None:
        """``{package, version, entry}`` for a plugin entry (entry point or ``module:Name``), else None."""
        self._load_entry_points()
        if name not in self._plugins and self._takes_import_name(name):
            obj = self.get(name)
            module = getattr(obj, "__module__", None) or name.partition(":")[0]
            if module.split(".")[0] != "xrec_bench":  # a built-in named by its import path is no plugin
                self._plugins[name] = provenance(name, obj)
        found = self._plugins.get(name)
        return dict(found) if found else None

    def _resolve(self, target: str, name: str, *, where: str = "plugin") -> Any:
        module_name, _, attr = target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError as exc:
            raise PluginError(f"Cannot load {self.kind} {name!r}: module {module_name!r} is not importable "
                              f"({type(exc).__name__}: {exc}). Install the package that provides it, or add its "
                              "folder to PYTHONPATH.") from exc
        except Exception as exc:  # noqa: BLE001 - a plugin whose own code fails on import
            raise PluginError(f"Cannot load {self.kind} {name!r}: importing {module_name!r} raised "
                              f"{type(exc).__name__}: {exc}. Fix the error in the plugin module.") from exc
        for part in attr.split("."):
            if not hasattr(obj, part):
                public = sorted(a for a in dir(obj) if not a.startswith("_"))[:20]
                raise PluginError(f"Cannot load {self.kind} {name!r}: {module_name!r} has no attribute {attr!r} "
                                  f"(it defines: {', '.join(public) or 'nothing public'}).")
            obj = getattr(obj, part)
        problem = self._check(obj) if self._check is not None and where != "registered" else None
        if problem:
            raise PluginError(f"Cannot use {self.kind} {name!r} ({where} {target!r}): {problem}")
        declared = self._name_of(obj) if self._name_of is not None and where == "registered" else name
        if declared != name:  # the lazy table is an index of the classes' own names, checked on use
            raise PluginError(f"The {self.kind} registered as {name!r} ({target!r}) declares the name {declared!r}; "
                              "register it under the name its class declares.")
        return obj

    def _load_entry_points(self) -> None:
        """Register the entry points of installed packages (once, on the first question about names)."""
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in importlib.metadata.entry_points(group=self._group):
            if ep.name in self._entries:
                log.warning("ignoring the %s entry point %r (%s): a %s of that name is already registered",
                            self._group, ep.name, ep.value, self.kind)
                continue
            dist = getattr(ep, "dist", None)
            self._entries[ep.name] = ep.value
            self._plugins[ep.name] = {"package": dist.name if dist else ep.module.split(".")[0],
                                      "version": dist.version if dist else "unknown", "entry": ep.value}

    def source(self, name: str) -> str:
        """``"built-in"`` for a component of this package, else ``"plugin <package> <version>"``."""
        found = self.plugin(name)
        if found:
            return f"plugin {found.get('package')} {found.get('version')}"
        target = self._entries.get(name)
        module = target.partition(":")[0] if isinstance(target, str) else getattr(target, "__module__", "") or ""
        return "built-in" if module.split(".")[0] in ("xrec_bench", "") else f"registered by {module.split('.')[0]}"

    def unknown_message(self, name: str) -> str:
        self._load_entry_points()
        if self._takes_import_name(name) and name not in self._entries:
            try:
                self.get(name)
            except PluginError as exc:
                return str(exc)
        close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
        hint = f" Did you mean: {', '.join(close)}?" if close else ""
        plugin = (" A plugin is named 'package.module:Name', or registered by an installed package under the "
                  f"entry-point group {self._group!r}.") if self._group else ""
        return (f"Unknown {self.kind} {name!r}.{hint} Known {self.kind}s: {', '.join(self.names())}.{plugin}")

    def names(self) -> list[str]:
        """Registered names, entry points of installed packages included (``module:Name`` ones once used)."""
        self._load_entry_points()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` is registered, or is a ``module:Name`` that loads and passes the check."""
        self._load_entry_points()
        if name in self._entries:
            return True
        if not self._takes_import_name(name):
            return False
        try:
            self.get(name)  # type: ignore[arg-type]
        except PluginError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._load_entry_points()
        return len(self._entries)


def provenance(name: str, obj: Any) -> dict[str, str]:
    """Where a ``module:Name`` component comes from: its distribution and version (importlib.metadata),
    else the top-level package and its ``__version__``; ``entry`` is the name it was given."""
    module = getattr(obj, "__module__", None) or name.partition(":")[0]
    top = module.split(".")[0]
    dists = importlib.metadata.packages_distributions().get(top) or []
    for dist in dists:
        try:
            return {"package": dist, "version": importlib.metadata.version(dist), "entry": name}
        except importlib.metadata.PackageNotFoundError:
            continue
    try:
        version = getattr(importlib.import_module(top), "__version__", None) if top != "__main__" else None
    except Exception:  # noqa: BLE001 - provenance is best effort for code outside any distribution
        version = None
    return {"package": top, "version": str(version or "unknown"), "entry": name}
