"""Group names written on Windows: ``layers\\dense`` read as the path ``layers/dense``.

Keras 2.15's saving library joins a layer's path with ``os.path.join`` and creates one HDF5 group
with that name, so on Windows a ``.keras`` file holds a single top-level group called
``layers\\dense`` (backslash included) where every other system writes ``layers`` > ``dense``.
The same holds for ``metrics\\mean`` and ``optimizer\\...``. This module shows such a file as the
tree it stands for, without copying anything: a ``VirtualGroup`` maps each path segment to the
real HDF5 group or to a further virtual level.

The rule, in one place: a backslash in a group name is a path separator (``normalise``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

SEPARATOR = "\\"


def normalise(name: str) -> str:
    """A group path as Keras meant it: backslashes (Windows separators) become ``/``."""
    return name.replace(SEPARATOR, "/")


class VirtualGroup:
    """A level of the tree that the file spells only inside backslashed names.

    Behaves like the small part of ``h5py.Group`` the readers use: ``in``, ``[]``, ``get``,
    iteration, ``len``, ``attrs``, ``name`` and ``visititems``.
    """

    def __init__(self, name: str, real: Any = None) -> None:
        self.name = name
        self.real = real
        self.children: dict[str, Any] = {}

    @property
    def attrs(self) -> Any:
        return self.real.attrs if self.real is not None else {}

    def _keys(self) -> list[str]:
        real = [k for k in self.real if SEPARATOR not in k] if self.real is not None else []
        return list(dict.fromkeys([*real, *self.children]))

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())

    def __contains__(self, key: object) -> bool:
        return key in self.children or (
            self.real is not None
            and isinstance(key, str)
            and SEPARATOR not in key
            and key in self.real
        )

    def __getitem__(self, key: str) -> Any:
        if key in self.children:
            return self.children[key]
        if self.real is not None and SEPARATOR not in key:
            return self.real[key]
        raise KeyError(key)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def visititems(self, visit: Callable[[str, Any], Any]) -> Any:
        from ._h5 import is_group

        for key in self:
            obj = self[key]
            found = visit(key, obj)
            if found is not None:
                return found
            if is_group(obj):
                found = obj.visititems(lambda n, o, k=key: visit(f"{k}/{n}", o))
                if found is not None:
                    return found
        return None


def windows_tree(root: Any) -> tuple[Any, list[str]]:
    """``root`` with backslashed group names turned into nested levels, and those names.

    Returns ``root`` itself (and no names) when no name holds a backslash.
    """
    odd = [k for k in root if SEPARATOR in k]
    if not odd:
        return root, []
    tree = VirtualGroup(getattr(root, "name", "/"), root)
    for key in sorted(odd, key=lambda k: k.count(SEPARATOR)):
        parts = [p for p in key.split(SEPARATOR) if p]
        level = tree
        for part in parts[:-1]:
            nxt = level.children.get(part)
            if nxt is None:
                real = level.real[part] if level.real is not None and part in level.real else None
                nxt = VirtualGroup(f"{level.name.rstrip('/')}/{part}", real)
                level.children[part] = nxt
            elif not isinstance(nxt, VirtualGroup):
                nxt = level.children[part] = VirtualGroup(nxt.name, nxt)
            level = nxt
        if parts:
            level.children.setdefault(parts[-1], root[key])
    return tree, odd
