"""The one template engine for everything administrators write: letters and client emails.

Templates are Jinja2 in a sandboxed environment with ``StrictUndefined``, limited to a fixed set of merge fields
(``{{ client.name }}``...), ``if``, ``for`` and a short list of filters. Whatever a template says, compiling and
rendering it costs a bounded amount of time and memory:

* before compiling, the parsed template is checked: no ``**`` at all, no number above ``MAX_NUMBER``, no chain of
  ``*`` whose constants multiply past ``MAX_REPEAT``, no function calls, ``set``, macros, imports or blocks, and no
  name but the merge fields. Jinja folds constant expressions while it compiles, before any sandbox rule runs, so
  this check is what stops ``{{ 9 ** (9 ** 9) }}`` or ``{{ 'a' * 10**9 }}`` from ever being evaluated;
* every arithmetic operator is intercepted (which also stops Jinja folding it at compile time) and checked at run
  time by :meth:`SafeEnvironment.call_binop`: no power, no integer past ``MAX_INT_BITS``, no string or list past
  ``MAX_OUTPUT``, no ``%`` string formatting;
* filters are an allow-list, each wrapped so its arguments and result are size-checked;
* a render counts loop iterations (``MAX_ITERATIONS``), output (``MAX_OUTPUT``) and time (a deadline checked at every
  loop step, attribute lookup, operator and output chunk).

:func:`render_off_loop` runs a render in a worker thread and waits at most ``timeout`` seconds for it, for callers on
an event loop (the letters page).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes, pass_context
from jinja2.exceptions import SecurityError, TemplateError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import _PassArg

from atlas_app.services.platform.errors import ValidationFailed

MAX_SOURCE = 20_000  # characters in one template
MAX_OUTPUT = 200_000  # characters one render may produce (and the largest string or list any step may build)
MAX_ITERATIONS = 10_000  # loop steps in one render, all loops together
MAX_NUMBER = 100_000  # the largest number a template may write
MAX_REPEAT = 10_000  # the largest product of the constants in a chain of ``*``
MAX_INT_BITS = 64  # integers computed while rendering stay below 2**64
RENDER_SECONDS = 2.0  # the time one render may take
MAX_NESTING = 60  # depth of nested expressions and tags

# group -> field -> what it holds; a group whose only field is "" is a plain value ({{ today }}).
Fields = Mapping[str, Mapping[str, str]]


class TemplateLimit(SecurityError):
    """A render went past one of the limits (output, loop steps, time, size of a value)."""


# --- the budget of the render running on this thread -------------------------------------------------------------


class _Budget:
    __slots__ = ("deadline", "iterations", "output")

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.iterations = 0
        self.output = 0

    def tick(self) -> None:
        if time.monotonic() > self.deadline:
            raise TemplateLimit("it took too long to fill in")


_local = threading.local()


def _budget() -> _Budget:
    budget = getattr(_local, "budget", None)
    if budget is None:  # a template rendered outside render(): still bounded
        budget = _local.budget = _Budget(RENDER_SECONDS)
    return budget


def _size(value: Any) -> int:
    return len(value) if isinstance(value, (str, list, tuple)) else 0


def _check_size(value: Any) -> Any:
    if _size(value) > MAX_OUTPUT:
        raise TemplateLimit(f"a value would be longer than {MAX_OUTPUT} characters")
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > MAX_INT_BITS:
        raise TemplateLimit("a number would be too large")
    return value


# --- filters ---------------------------------------------------------------------------------------------------


def _guarded(func, pre=None):
    """``func`` as a filter that cannot build anything past the limits. ``pass_context`` keeps Jinja from running it
    while compiling (constant folding)."""

    passes = _PassArg.from_obj(func)

    @pass_context
    def run(context, value, *args, **kwargs):
        _budget().tick()
        for arg in (*args, *kwargs.values()):
            if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_NUMBER:
                raise TemplateLimit("a filter was given too large a number")
            _check_size(arg)
        if pre is not None:
            pre(value, *args, **kwargs)
        if passes is _PassArg.context:
            return _check_size(func(context, value, *args, **kwargs))
        if passes is _PassArg.eval_context:
            return _check_size(func(context.eval_ctx, value, *args, **kwargs))
        if passes is _PassArg.environment:
            return _check_size(func(context.environment, value, *args, **kwargs))
        return _check_size(func(value, *args, **kwargs))

    return run


def _replace_bound(value: Any, old: Any = "", new: Any = "", count: Any = None) -> None:
    text, old, new = str(value), str(old), str(new)
    hits = (len(text) + 1) if old == "" else text.count(old)
    if len(text) + hits * len(new) > MAX_OUTPUT:
        raise TemplateLimit(f"a value would be longer than {MAX_OUTPUT} characters")


def _join_bound(value: Any, d: Any = "", attribute: Any = None) -> None:
    items = list(value) if isinstance(value, (str, list, tuple)) else []
    if sum(len(str(x)) for x in items) + len(items) * len(str(d)) > MAX_OUTPUT:
        raise TemplateLimit(f"a value would be longer than {MAX_OUTPUT} characters")


def _width_bound(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> None:
    lines = str(value).count("\n") + 1
    if isinstance(width, int) and len(str(value)) + lines * max(width, 0) > MAX_OUTPUT:
        raise TemplateLimit(f"a value would be longer than {MAX_OUTPUT} characters")


ALLOWED_FILTERS = ("upper", "lower", "title", "capitalize", "trim", "default", "d", "length", "count", "replace",
                   "first", "last", "join", "round", "abs", "int", "string", "truncate", "wordcount", "center",
                   "indent", "striptags", "reverse", "e", "escape")
_PRE = {"replace": _replace_bound, "join": _join_bound, "center": _width_bound, "indent": _width_bound}


# --- the environment ------------------------------------------------------------------------------------------


class SafeEnvironment(SandboxedEnvironment):
    """Jinja's sandbox, with every operator checked and a budget for each render."""

    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})
    intercepted_unops = frozenset({"-", "+"})

    def __init__(self) -> None:
        super().__init__(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)
        base = dict(self.filters)
        self.filters = {name: _guarded(base[name], _PRE.get(name)) for name in ALLOWED_FILTERS}
        self.globals = {}  # no range(), lipsum(), dict(), cycler()...

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        _budget().tick()
        if operator == "**":
            raise TemplateLimit("templates may not raise to a power")
        if operator == "%" and isinstance(left, str):
            raise TemplateLimit("templates may not format with %")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, (str, list, tuple)) and isinstance(times, int):
                    if len(seq) * max(times, 0) > MAX_OUTPUT:
                        raise TemplateLimit(f"a value would be longer than {MAX_OUTPUT} characters")
            if isinstance(left, int) and isinstance(right, int) and \
                    left.bit_length() + right.bit_length() > MAX_INT_BITS + 1:
                raise TemplateLimit("a number would be too large")
        if operator == "+" and _size(left) + _size(right) > MAX_OUTPUT:
            raise TemplateLimit(f"a value would be longer than {MAX_OUTPUT} characters")
        return _check_size(super().call_binop(context, operator, left, right))

    def call_unop(self, context, operator: str, arg: Any) -> Any:
        _budget().tick()
        return _check_size(super().call_unop(context, operator, arg))

    def getattr(self, obj: Any, attribute: str) -> Any:
        _budget().tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        _budget().tick()
        return super().getitem(obj, argument)


ENV = SafeEnvironment()


def _loop_guard(iterable: Any) -> Iterator[Any]:
    budget = _budget()
    for item in iterable:
        budget.iterations += 1
        if budget.iterations > MAX_ITERATIONS:
            raise TemplateLimit(f"its loops ran more than {MAX_ITERATIONS} times")
        budget.tick()
        yield item


_GUARD = "__atlas_loop_guard"


# --- checking a template before it is compiled ----------------------------------------------------------------


def _refuse(what: str, message: str, code: str) -> ValidationFailed:
    return ValidationFailed(message, {what: code})


def _field_name(node: nodes.Node) -> str:
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getattr):
        return _field_name(node.node) + "." + node.attr
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return _field_name(node.node) + "." + str(node.arg.value)
    return "(expression)"


def _depth(node: nodes.Node, limit: int) -> int:
    """How deeply ``node`` nests (stops counting past ``limit``), without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in current.iter_child_nodes())
    return deepest


def _constant_product(node: nodes.Node) -> int:
    """The product of the number constants in a chain of ``*`` (1 for anything else)."""
    if isinstance(node, nodes.Mul):
        return _constant_product(node.left) * _constant_product(node.right)
    if isinstance(node, nodes.Const) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return max(1, int(abs(node.value)))
    if isinstance(node, nodes.Neg | nodes.Pos):
        return _constant_product(node.node)
    return 1


def parse(source: str, fields: Fields, what: str = "body") -> nodes.Template:
    """Parse ``source`` and refuse it, with the field named, unless it keeps to the merge fields in ``fields`` and
    to what templates may do. Runs no part of the template."""
    if not isinstance(source, str):
        raise _refuse(what, f"The {what} must be text.", "invalid")
    if len(source) > MAX_SOURCE:
        raise _refuse(what, f"The {what} is longer than {MAX_SOURCE} characters.", "too long")
    try:
        tree = ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise _refuse(what, f"The {what} has a template error on line {exc.lineno}: {exc.message}",
                      "syntax") from None
    except (RecursionError, MemoryError):
        raise _refuse(what, f"The {what} nests too deeply.", "too deep") from None
    except (ValueError, TemplateError) as exc:  # e.g. a number literal too long to read
        raise _refuse(what, f"The {what} cannot be read: {str(exc)[:200]}", "syntax") from None
    if _depth(tree, MAX_NESTING) > MAX_NESTING:
        raise _refuse(what, f"The {what} nests too deeply.", "too deep")
    _check_tree(tree, fields, what)
    return tree


def _check_tree(tree: nodes.Template, fields: Fields, what: str) -> None:
    for node in tree.find_all((nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends, nodes.Macro,
                               nodes.CallBlock, nodes.Block, nodes.Assign, nodes.AssignBlock, nodes.With,
                               nodes.Scope, nodes.OverlayScope, nodes.EvalContextModifier, nodes.ScopedEvalContextModifier)):
        kind = {"Assign": "set", "AssignBlock": "set", "EvalContextModifier": "autoescape",
                "ScopedEvalContextModifier": "autoescape"}.get(type(node).__name__, type(node).__name__.lower())
        raise _refuse(what, f"The {what} uses '{kind}', which templates may not use; only merge fields, if and for.",
                      "not allowed")
    for node in tree.find_all(nodes.Pow):
        raise _refuse(what, f"The {what} raises a number to a power (**), which templates may not do.", "power")
    for node in tree.find_all(nodes.Const):
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) > MAX_NUMBER:
            raise _refuse(what, f"The {what} uses the number {str(value)[:20]}, larger than {MAX_NUMBER}.",
                          "number too large")
    for node in tree.find_all(nodes.Mul):
        if _constant_product(node) > MAX_REPEAT:
            raise _refuse(what, f"The {what} multiplies by more than {MAX_REPEAT}.", "too large")
    for node in tree.find_all(nodes.Mod):
        if isinstance(node.left, nodes.Const) and isinstance(node.left.value, str):
            raise _refuse(what, f"The {what} formats text with %, which templates may not do.", "not allowed")
    for node in tree.find_all(nodes.Call):
        raise _refuse(what, f"The {what} calls a function ({_field_name(node.node)}); only merge fields and "
                      "filters are allowed.", "call")
    for node in tree.find_all(nodes.Filter):
        if node.name not in ALLOWED_FILTERS:
            raise _refuse(what, f"The {what} uses the filter '{node.name}', which templates may not use.",
                          f"unknown filter {node.name}")
    local_names = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}
    for name in sorted(local_names):
        if name in fields:
            raise _refuse(what, f"The {what} uses the merge field name '{name}' for a loop variable.",
                          f"shadows {name}")
    parents = {id(n.node): n for n in tree.find_all((nodes.Getattr, nodes.Getitem))}
    attr_targets = set(parents)
    for n in tree.find_all(nodes.Name):
        if n.ctx != "load" or n.name in local_names:
            continue
        if n.name not in fields:
            named = _field_name(parents[id(n)]) if id(n) in parents else n.name
            raise _refuse(what, f"Unknown merge field '{named}' in the {what}.", f"unknown field {named}")
        if "" not in fields[n.name] and id(n) not in attr_targets:
            raise _refuse(what, f"Use a field of '{n.name}' (for example {{{{ {n.name}."
                          f"{next(iter(fields[n.name]))} }}}}), not '{n.name}' itself.", f"bare group {n.name}")
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        inner = node.node
        if isinstance(inner, nodes.Name) and inner.name in local_names:
            continue
        name = _field_name(node)
        group = inner.name if isinstance(inner, nodes.Name) else None
        attr = node.attr if isinstance(node, nodes.Getattr) else (
            node.arg.value if isinstance(node.arg, nodes.Const) else None)
        if group is None or group not in fields or "" in fields[group] or attr not in fields[group]:
            if group is not None and group in local_names:
                continue
            raise _refuse(what, f"Unknown merge field '{name}' in the {what}.", f"unknown field {name}")


def _guard_loops(tree: nodes.Template) -> nodes.Template:
    """Every ``for`` steps through the render's loop budget."""
    for loop in tree.find_all(nodes.For):
        loop.iter = nodes.Call(nodes.Name(_GUARD, "load", lineno=loop.lineno), [loop.iter], [], None, None,
                               lineno=loop.lineno)
    return tree


def check(source: str, fields: Fields, what: str = "body") -> None:
    """Refuse (ValidationFailed, with ``what`` named) a template that does not parse, names anything but the merge
    fields, or uses what templates may not."""
    parse(source, fields, what)


@dataclass(frozen=True)
class Compiled:
    template: Any
    what: str


_CACHE: OrderedDict[tuple, Compiled] = OrderedDict()
_CACHE_SIZE = 256
_cache_lock = threading.Lock()


def compile_template(source: str, fields: Fields, what: str = "body") -> Compiled:
    """Check, then compile (remembering the last few hundred). Constant folding at compile time meets only what the
    check let through."""
    key = (source, what, tuple((g, tuple(f)) for g, f in fields.items()))
    with _cache_lock:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    compiled = _compile(source, fields, what)
    with _cache_lock:
        _CACHE[key] = compiled
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return compiled


def _compile(source: str, fields: Fields, what: str) -> Compiled:
    tree = _guard_loops(parse(source, fields, what))
    try:
        template = ENV.from_string(tree, globals={_GUARD: _loop_guard})
    except (RecursionError, MemoryError):
        raise _refuse(what, f"The {what} nests too deeply.", "too deep") from None
    except TemplateError as exc:
        raise _refuse(what, f"The {what} has a template error: {str(exc)[:200]}", "syntax") from None
    return Compiled(template, what)


def _render_compiled(compiled: Compiled, context: Mapping[str, Any], seconds: float | None) -> str:
    what = compiled.what
    previous = getattr(_local, "budget", None)
    budget = _local.budget = _Budget(RENDER_SECONDS if seconds is None else seconds)
    try:
        parts: list[str] = []
        for chunk in compiled.template.generate(**context):
            budget.output += len(chunk)
            if budget.output > MAX_OUTPUT:
                raise TemplateLimit(f"it would be longer than {MAX_OUTPUT} characters")
            budget.tick()
            parts.append(chunk)
        return "".join(parts)
    except UndefinedError as exc:
        raise _refuse(what, f"The {what} uses a field with no value: {exc.message}", "undefined") from None
    except TemplateLimit as exc:
        raise _refuse(what, f"The {what} cannot be filled in: {exc}.", "too costly") from None
    except SecurityError as exc:
        raise _refuse(what, f"The {what} tries something templates may not do: {exc}", "unsafe") from None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError, TemplateError) as exc:
        raise _refuse(what, f"The {what} cannot be filled in: {str(exc)[:200]}", "error") from None
    except RecursionError:
        raise _refuse(what, f"The {what} nests too deeply.", "too deep") from None
    finally:
        _local.budget = previous


def render(source: str, context: Mapping[str, Any], fields: Fields, what: str = "body",
           seconds: float | None = None) -> str:
    """Check, compile and fill in a template, within the limits. Refusals are ValidationFailed naming ``what``."""
    return _render_compiled(compile_template(source, fields, what), context, seconds)


def render_many(source: str, contexts: Iterable[Mapping[str, Any]], fields: Fields, what: str = "body",
                seconds: float | None = None) -> list[str]:
    """One compile, one render per context (each with its own budget)."""
    compiled = compile_template(source, fields, what)
    return [_render_compiled(compiled, c, seconds) for c in contexts]


# --- off the event loop ---------------------------------------------------------------------------------------

_POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="template-render")


def run_bounded(func, *args: Any, timeout: float | None = None, what: str = "body") -> Any:
    """Run ``func(*args)`` (work that renders user-written templates) in the render pool and wait at most
    ``timeout`` seconds. The renders inside keep their own deadlines, so a worker never runs on for long."""
    future = _POOL.submit(func, *args)
    try:
        return future.result(timeout=RENDER_SECONDS + 3.0 if timeout is None else timeout)
    except FutureTimeout:
        future.cancel()
        raise _refuse(what, f"The {what} took too long to fill in.", "too costly") from None


async def render_off_loop(func, *args: Any, timeout: float | None = None, what: str = "body") -> Any:
    """For callers on an event loop: ``func(*args)`` runs in the render pool; the loop goes on serving others."""
    loop = asyncio.get_running_loop()
    future = loop.run_in_executor(_POOL, func, *args)
    try:
        return await asyncio.wait_for(future, RENDER_SECONDS + 3.0 if timeout is None else timeout)
    except asyncio.TimeoutError:
        raise _refuse(what, f"The {what} took too long to fill in.", "too costly") from None
