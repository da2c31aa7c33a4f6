"""Transparent replacements for functions the plugin patches.

A patch on a module-level function (``time.sleep``, ``open``, ``os.stat``, ``sqlite3.connect``)
must be indistinguishable from the original in plain code. A Python function is not: stored as a
class attribute (``class Poller: sleep = time.sleep``) it binds as a method, so
``self.sleep(1)`` passes ``self`` as the delay; and pickle looks it up under its
``__module__``/``__qualname__`` (``posix.stat`` for ``os.stat``) and refuses it because the
object found there is the original. :func:`transparent` builds the replacement once, the same way
for every such patch::

    from pytest_pyskill.wrapping import transparent

    original = time.sleep

    def sleep(*args, **kwargs):  # the new behaviour; calls the original itself
        ...
        return original(*args, **kwargs)

    time.sleep = transparent(original, sleep)

The returned object

- calls ``call(*args, **kwargs)`` when called (one C-level dispatch, no extra Python frame);
- never binds as a method: its class has no ``__get__`` (as C builtins have none), so
  ``class C: f = wrapper`` then ``C().f(x)`` calls ``call(x)``;
- pickles by reference as the original does: to the same bytes while it is installed where
  the original's ``__module__``/``__qualname__`` point, and otherwise to
  ``attrgetter(name)(importlib.import_module(module))``; either way ``pickle.loads`` gives back
  whatever that name holds at that time, and the loading side needs nothing of the plugin
  (``ProcessPoolExecutor().map(os.stat, paths)`` with fork and spawn);
- has the original's ``__name__``, ``__qualname__``, ``__module__``, ``__doc__``, ``__self__``
  and ``__text_signature__`` (where it has them), ``__wrapped__`` = the original, so
  ``inspect.signature`` gives the original's signature (or raises the same error), and the
  original's ``repr``;
- is its own copy (``copy.copy``/``deepcopy`` return it, as for a builtin).

What it cannot hide: ``type(wrapper)`` is not ``builtin_function_or_method`` (though
``wrapper.__class__``, ``isinstance`` and ``inspect.isbuiltin`` say it is, as for the original)
and ``wrapper is original`` is false.

Methods looked up on instances (``socket.socket.recv``, ``threading.Event.wait``) are the
opposite case: their replacement must bind, so it stays a plain function (see
:func:`method_wrapper`).
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import operator
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["Transparent", "method_wrapper", "transparent"]

# Copied from the original onto the replacement when the original has them.
_COPIED = ("__module__", "__name__", "__qualname__", "__doc__", "__self__", "__text_signature__")


class _ModuleRef:
    """Pickles as ``importlib.import_module(name)``: a module reference for a reduce tuple."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> tuple[Any, ...]:
        return importlib.import_module, (self.name,)


class Transparent:
    """Base class of the objects :func:`transparent` returns; each gets its own subclass whose
    ``__call__`` is the replacement function (a staticmethod, so no ``self`` and no binding)."""

    __wrapped__: Any

    # ``isinstance(wrapper, types.BuiltinFunctionType)`` and ``inspect.isbuiltin(wrapper)`` hold
    # as for the original (isinstance consults ``__class__``, as for ``unittest.mock`` specs):
    # tools that recognise file-system functions that way (pyfakefs) still find and patch them.
    @property  # type: ignore[misc]
    def __class__(self) -> type:  # noqa: D105
        return type(self.__wrapped__)

    def __repr__(self) -> str:
        return repr(self.__wrapped__)

    def __copy__(self) -> Transparent:
        return self

    def __deepcopy__(self, memo: Any) -> Transparent:
        return self

    def __reduce__(self) -> str | tuple[Any, ...]:
        module = getattr(self, "__module__", None)
        name = getattr(self, "__qualname__", None)
        if not isinstance(module, str) or not isinstance(name, str):
            return self.__wrapped__.__reduce__()  # type: ignore[no-any-return]
        home: Any = sys.modules.get(module)
        try:
            for part in name.split("."):
                home = getattr(home, part)
        except AttributeError:
            home = None
        if home is self:
            return name  # pickle's own global lookup: the original's exact bytes
        installed = getattr(self, "__pyskill_home__", None)
        if isinstance(installed, tuple):
            # Installed under another name than the original's (``os.stat`` is ``posix.stat``):
            # that name, so that a round trip in this process gives this object back, as it
            # gives the original back without the plugin; elsewhere it is the original.
            where, attr = installed
            if getattr(sys.modules.get(where), attr, None) is self:
                return operator.attrgetter(attr), (_ModuleRef(where),)
        # Installed elsewhere than its home (``os.stat`` is ``posix.stat``), or not installed:
        # the same name, looked up when loaded.
        return operator.attrgetter(name), (_ModuleRef(module),)


def transparent(
    original: Callable[..., Any],
    call: Callable[..., Any],
    home: tuple[str, str] | None = None,
) -> Transparent:
    """A replacement for the function ``original`` that runs ``call`` and is otherwise
    indistinguishable from it in plain code (see the module docstring). ``home``: the
    (module, attribute) it is installed as, when that is not where the original's own
    ``__module__``/``__qualname__`` point (pickling names it there while it is installed)."""
    cls = type(
        "Transparent",
        (Transparent,),
        {"__call__": staticmethod(call), "__module__": __name__},
    )
    wrapper: Transparent = cls()
    namespace = wrapper.__dict__
    for attr in _COPIED:
        with contextlib.suppress(AttributeError):
            namespace[attr] = getattr(original, attr)
    namespace["__wrapped__"] = original
    if home is not None:
        namespace["__pyskill_home__"] = home
    return wrapper


def method_wrapper(
    original: Any, call: Callable[..., Any], owner: type, attr: str
) -> Callable[..., Any]:
    """``call`` dressed as the method ``owner.attr`` (it binds, like the original): name,
    qualname, module, doc, ``__wrapped__`` (so ``inspect.signature`` follows it), and the
    qualified name pickle finds it under while it is installed on ``owner`` (methods inherited
    from a C base, ``socket.socket.recv``, have no ``__module__`` of their own)."""
    try:
        functools.update_wrapper(call, original)
    except (AttributeError, TypeError):  # pragma: no cover - originals without some attributes
        call.__wrapped__ = original  # type: ignore[attr-defined]
    call.__module__ = owner.__module__
    call.__qualname__ = f"{owner.__qualname__}.{attr}"
    return call
