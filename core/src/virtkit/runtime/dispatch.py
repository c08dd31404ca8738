"""Dispatch: one plugin manager per connection, and the one place every hook call is checked.

A connection's *providers* are its driver plus the host services the driver declares
(``Driver.host_services``); its *wrappers* are the cross-cutting plugins (audit log, access
control), which may only wrap. :class:`Dispatcher` builds the plugin manager, validates every
provider and plugin at registration, and applies, on every call, in this order:

1. closed connection: INVALID_CONN;
2. unknown operation: INVALID_ARG; read-only connection and a call that is not read-only (for
   these arguments): OPERATION_DENIED; no provider implements it: NO_SUPPORT;
3. the arguments: exactly the hookspec's, each of its annotated type, with the checks its name
   and its hookspec declare (:mod:`virtkit.sdk.checks`);
4. the call itself, through every wrapper; anything but a VirtError escaping a provider becomes
   INTERNAL_ERROR naming the provider (SystemExit too; KeyboardInterrupt becomes
   OPERATION_ABORTED);
5. the result: None where the hookspec requires a result, or a result of the wrong type, is
   INTERNAL_ERROR naming the provider. The top-level type is checked on every call; with
   ``VIRTKIT_CHECK_RESULTS=1`` (the conformance suite sets it) every item of a list is too.

A hook that a provider implements alone, with no wrapper, is called directly (no pluggy
machinery) after the same argument checks. Streams belong to the provider that opened them: a
call of a hook that ``opens_stream`` records which provider answered, and the ``stream_*`` calls
on that id go to it (a qemu connection's console streams are the driver's, its volume uploads the
storage service's).
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, cast

import pluggy

from virtkit.sdk import checks as _checks
from virtkit.sdk.driver import DriverContext
from virtkit.sdk.errors import ErrorCode, VirtError, invalid_arg, no_support
from virtkit.sdk.hookspecs import MODULES, PREFIX, PROJECT, all_specs
from virtkit.sdk.hookspecs.markers import meta

log = logging.getLogger("virtkit.runtime.dispatch")

ArgCheck = Callable[[dict[str, Any]], dict[str, Any]]


# -- what each hookspec declares, compiled once per process ---------------------------------------


class OpSpec:
    """One operation's compiled rules: argument names, argument checks, read-only rule, result
    check."""

    __slots__ = ("argnames", "checks", "deep_result", "denied_because", "name", "op",
                 "opens_stream", "optional_result", "readonly", "result", "result_type",
                 "uses_stream")

    def __init__(self, name: str, fn: Callable[..., Any]) -> None:
        self.name = name
        self.op = name[len(PREFIX):]
        m = meta(fn)
        self.readonly = m.readonly
        self.denied_because = m.denied_because
        self.optional_result = m.optional_result
        self.opens_stream = m.opens_stream
        hints = typing.get_type_hints(fn)
        import inspect

        self.argnames = frozenset(inspect.signature(fn).parameters)
        self.uses_stream = "stream" in self.argnames
        checks: list[tuple[str, bool, type | None, str, tuple[Callable[[Any, str], Any], ...]]]
        checks = []
        for arg in inspect.signature(fn).parameters:
            hint = hints.get(arg, Any)
            nullable = _allows_none(hint)
            chain: list[Callable[[Any, str], Any]] = []
            by_name = _checks.BY_NAME.get(arg)
            if by_name is not None:
                chain.append(by_name)
            # A plain class (a record, str, bool) is checked by check_args itself (an
            # isinstance, no Python call), unless a check by the argument's name comes first;
            # a type that check guarantees (a name is a str) is not checked twice.
            kind = _plain_type(hint)
            if by_name is not None and _checks.BY_NAME_TYPES.get(arg) is _single(hint):
                kind, hint = None, Any
            elif by_name is not None:
                kind = None
            elif kind is not None:
                hint = Any
            typed = _checks.type_check(hint, f"argument '{arg}'")
            if typed is not None:
                chain.append(typed)
            declared = m.checks.get(arg)
            if declared is not None:
                chain.append(declared)
            if chain or kind is not None:
                label = f"{kind.__name__}{' or None' if nullable else ''}" if kind else ""
                checks.append((arg, nullable, kind, label, tuple(chain)))
        self.checks = tuple(checks)
        result_hint = hints.get("return", Any)
        self.result = _result_check(result_hint, deep=False)
        self.deep_result = _result_check(result_hint, deep=True)
        #: the declared result class when its check is an isinstance (int and float included):
        #: a result of exactly that class passes without calling the check
        target = _single(result_hint)
        self.result_type = target if self.result is not None and isinstance(target, type) \
            and typing.get_origin(target) is None and target not in (list, dict) else None

    def check_args(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        if kwargs.keys() != self.argnames:
            missing = sorted(self.argnames - kwargs.keys())
            extra = sorted(kwargs.keys() - self.argnames)
            what = (f"missing argument {', '.join(missing)}" if missing
                    else f"unknown argument {', '.join(extra)}")
            raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: {self.op}: {what}")
        for arg, nullable, kind, label, chain in self.checks:
            value = kwargs[arg]
            if value is None and nullable:
                continue
            if kind is not None and type(value) is not kind and not isinstance(value, kind):
                # the words of virtkit.sdk.checks.type_check's message
                raise invalid_arg(f"{self.op}: argument '{arg}' must be {label}, not "
                                  f"{type(value).__name__}")
            if chain:
                for check in chain:
                    value = check(value, self.op)
                kwargs[arg] = value
        return kwargs

    def allowed_read_only(self, kwargs: Mapping[str, Any]) -> bool:
        rule = self.readonly
        if isinstance(rule, bool):
            return rule
        return rule(kwargs)


def _single(hint: Any) -> Any:
    """``X`` for a hint ``X`` or ``X | None``; None for any other union."""
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return hint
    members = [t for t in typing.get_args(hint) if t is not type(None)]
    return members[0] if len(members) == 1 else None


def _plain_type(hint: Any) -> type | None:
    """The class a value of ``hint`` (``X`` or ``X | None``) must be an instance of, when that
    is the whole type check (:func:`virtkit.sdk.checks.type_check`'s plain isinstance: not for
    int and float, whose checks refuse bools)."""
    kind = _single(hint)
    if not isinstance(kind, type) or typing.get_origin(kind) is not None or kind in (
            int, float, list, tuple, dict, object) or kind is Any:
        return None
    return kind


def _allows_none(hint: Any) -> bool:
    return hint is Any or type(None) in typing.get_args(hint)


def _result_check(hint: Any, deep: bool) -> Callable[[Any], bool] | None:
    """A predicate for a hook's result type (without its ``| None``), or None if anything goes."""
    members = [m for m in typing.get_args(hint) if m is not type(None)] or [hint]
    if len(members) != 1:
        return None
    target = members[0]
    origin = typing.get_origin(target)
    if origin is list:
        (item,) = typing.get_args(target) or (Any,)
        item_type = item if isinstance(item, type) else None
        if deep and item_type is not None:
            return lambda r: isinstance(r, list) and all(isinstance(x, item_type) for x in r)
        if item_type is not None:
            return lambda r: isinstance(r, list) and (not r or isinstance(r[0], item_type))
        return lambda r: isinstance(r, list)
    if origin is dict:
        return lambda r: isinstance(r, dict)
    if target is Any:
        return None
    if target is int:
        return lambda r: isinstance(r, int) and not isinstance(r, bool)
    if target is float:
        return lambda r: isinstance(r, (int, float)) and not isinstance(r, bool)
    if isinstance(target, type):
        return lambda r: isinstance(r, target)
    return None


@functools.cache
def op_specs() -> dict[str, OpSpec]:
    """Every operation's compiled rules, by operation name (``"domain_suspend"``)."""
    return {name[len(PREFIX):]: OpSpec(name, fn) for name, fn in all_specs().items()}


def deep_result_checks() -> bool:
    return os.environ.get("VIRTKIT_CHECK_RESULTS") == "1"


# -- registration --------------------------------------------------------------------------------


def new_plugin_manager() -> pluggy.PluginManager:
    pm = pluggy.PluginManager(PROJECT)
    for module in MODULES:
        pm.add_hookspecs(module)
    return pm


def _who(obj: Any) -> str:
    return getattr(obj, "name", None) or type(obj).__name__


def _closest(name: str, specs: Mapping[str, Any]) -> str | None:
    import difflib

    found = difflib.get_close_matches(name, list(specs), n=1)
    return found[0] if found else None


def register(pm: pluggy.PluginManager, obj: Any, name: str, what: str) -> None:
    """Register ``obj`` and validate its hookimpls against the specs (names and arguments).

    :raises VirtError: INTERNAL_ERROR naming the object and what is wrong.
    """
    class_impls(cast(Any, type(obj)), what)  # names and arguments, as for every provider
    try:
        pm.register(obj, name=name)
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        try:
            pm.unregister(obj)
        except Exception:
            pass
        raise VirtError(
            ErrorCode.INTERNAL_ERROR,
            f"{what} '{_who(obj)}' does not match virtkit's hookspecs: {exc}",
        ) from None
    except ValueError as exc:  # registered twice under one name
        raise VirtError(ErrorCode.INTERNAL_ERROR, f"{what} '{_who(obj)}': {exc}") from None


def _impl_names(pm: pluggy.PluginManager, obj: Any) -> set[str]:
    return {c.name for c in pm.get_hookcallers(obj) or ()}


def check_wrapper_only(pm: pluggy.PluginManager, plugin: Any) -> None:
    """A cross-cutting plugin may only wrap hooks; answering one in the driver's place is refused.

    :raises VirtError: INTERNAL_ERROR naming the plugin and the hooks it answers.
    """
    answering = sorted(
        caller.name
        for caller in pm.get_hookcallers(plugin) or ()
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin and not (impl.hookwrapper or impl.wrapper)
    )
    if answering:
        pm.unregister(plugin)
        raise VirtError(
            ErrorCode.INTERNAL_ERROR,
            f"plugin '{_who(plugin)}' ({type(plugin).__module__}) implements "
            f"{', '.join(answering)} instead of wrapping: cross-cutting plugins may only wrap "
            f"hooks (use @hookimpl(wrapper=True) or virtkit.sdk.wrap.wrap_every_hook)",
        )


def construct(cls: Any, context: DriverContext, what: str, uri_text: str) -> Any:
    """``cls(context)``, with any failure reported as a VirtError naming the class."""
    label = getattr(cls, "name", None) or getattr(cls, "__name__", repr(cls))
    try:
        return cls(context)
    except VirtError:
        raise
    except Exception as exc:
        code = ErrorCode.NO_CONNECT if what == "driver" else ErrorCode.INTERNAL_ERROR
        raise VirtError(
            code,
            f"{what} '{label}' failed to start for '{uri_text}': {type(exc).__name__}: {exc}",
        ) from exc


@functools.cache
def class_impls(cls: Any, what: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    """The hookimpls of a provider class: hook name -> (argument names, is a wrapper).

    Read once per class. Checked as pluggy would, and more: every ``virtkit_*`` attribute must
    be a hookspec's name, and a hookimpl may not take an argument its hookspec lacks.

    :raises VirtError: INTERNAL_ERROR naming the class and the problem.
    """
    from pluggy._hooks import varnames

    specs = all_specs()
    label = getattr(cls, "name", None) or cls.__name__
    where = f"{what} '{label}' ({cls.__module__}.{cls.__qualname__})"
    out: dict[str, tuple[tuple[str, ...], bool]] = {}
    for attr in dir(cls):
        if not attr.startswith(PREFIX):
            continue
        if attr not in specs:
            close = _closest(attr, specs)
            hint = f" (did you mean {close}?)" if close else ""
            raise VirtError(ErrorCode.INTERNAL_ERROR,
                            f"{where} has {attr}, which is not a virtkit hook{hint}")
        function = getattr(cls, attr)
        opts = getattr(function, PROJECT + "_impl", None)
        if opts is None:
            continue  # not marked: not a hookimpl
        args, _ = varnames(function)
        if args and args[0] == "self":
            args = args[1:]
        extra = sorted(set(args) - set(inspect.signature(specs[attr]).parameters))
        if extra:
            raise VirtError(
                ErrorCode.INTERNAL_ERROR,
                f"{where} does not match virtkit's hookspecs: {attr} takes "
                f"{', '.join(extra)}, which the hookspec does not have",
            )
        out[attr] = (tuple(args), bool(opts.get("wrapper") or opts.get("hookwrapper")))
    return out


def _bind(provider: Any, hook: str, argnames: tuple[str, ...], spec: OpSpec) -> Callable[..., Any]:
    """The provider's method for ``hook``, called with keyword arguments as pluggy would (only
    those it declares)."""
    function = getattr(provider, hook)
    if set(argnames) == spec.argnames:
        return function  # type: ignore[no-any-return]
    return _adapter(function, argnames)


# -- the dispatcher ------------------------------------------------------------------------------


class Dispatcher:
    """One connection's plugin manager and its checked call path."""

    def __init__(
        self,
        uri_text: str,
        context: DriverContext,
        driver_cls: Any,
        service_classes: tuple[Any, ...] = (),
        plugin_classes: tuple[Any, ...] = (),
    ) -> None:
        self.uri_text = uri_text
        self.read_only = context.read_only
        self.closed = False
        #: seconds a caller waits for any one call (None: as long as it takes); see bounded()
        self.timeout: float | None = None
        self._pool: Any = None
        self.specs = op_specs()
        self.deep = deep_result_checks()
        self.driver = construct(driver_cls, context, "driver", uri_text)
        self.driver_name: str = getattr(self.driver, "name", None) or context.uri.driver
        services = [construct(cls, context, "host service", uri_text) for cls in service_classes]
        # Which provider answers each hook: a service's, unless the driver has its own (two
        # services may not answer one hook).
        owners: dict[str, Any] = {}
        tables: list[tuple[Any, dict[str, tuple[tuple[str, ...], bool]]]] = []
        for service in services:
            table = class_impls(cast(Any, type(service)), "host service")
            for hook in table:
                if hook in owners:
                    raise VirtError(
                        ErrorCode.INTERNAL_ERROR,
                        f"host services '{_who(owners[hook])}' and '{_who(service)}' both "
                        f"implement {hook}: a hook has one provider",
                    )
                owners[hook] = service
            tables.append((service, table))
        driver_table = class_impls(cast(Any, type(self.driver)), "driver")
        owners.update(dict.fromkeys(driver_table, self.driver))
        tables.insert(0, (self.driver, driver_table))
        self.providers: list[Any] = [self.driver, *services]
        # What the providers implement; a forwarding driver narrows it once open (see opened()).
        implemented = frozenset(h[len(PREFIX):] for h in owners)
        self.implemented = implemented
        self.owner = {h[len(PREFIX):]: o for h, o in owners.items()}
        plugins = [
            plugin
            for plugin in (construct(cls, context, "plugin", uri_text) for cls in plugin_classes)
            if getattr(plugin, "active", True)
        ]
        wrapping = any(w for _, table in tables for _, w in table.values())
        # Which providers have each stream hook (streams go to the provider that opened them).
        stream_providers = {
            op: [p for p, table in tables if PREFIX + op in table]
            for op, spec in self.specs.items()
            if spec.uses_stream
        }
        self.stream_owner: dict[int, Any] = {}
        self.stream_callers: dict[tuple[str, int], Any] = {}
        self.pm: pluggy.PluginManager | None = None
        if plugins or wrapping:
            # Something wraps hooks: pluggy runs the wrappers around each call.
            pm = new_plugin_manager()
            for service in services:
                register(pm, service, f"service:{_who(service)}", "host service")
            # The driver last: pluggy calls the last registered first.
            register(pm, self.driver, f"driver:{self.driver_name}", "driver")
            for plugin in plugins:
                register(pm, plugin, f"plugin:{_who(plugin)}", "plugin")
                check_wrapper_only(pm, plugin)
            self.pm = pm
            self.callers = self._callers(pm, owners)
            self.fast = self._fast_calls(pm)
            for op, have in stream_providers.items():
                if len(have) > 1:
                    self.fast.pop(op, None)
                    for provider in have:
                        others = [o for o in have if o is not provider]
                        self.stream_callers[(op, id(provider))] = pm.subset_hook_caller(
                            PREFIX + op, others
                        )
        else:
            # Nothing wraps: every hook is one provider's method, called directly.
            bound = {
                (hook, id(p)): _bind(p, hook, table[hook][0], self.specs[hook[len(PREFIX):]])
                for p, table in tables
                for hook in table
            }
            self.callers = {
                h[len(PREFIX):]: bound[(h, id(o))] for h, o in owners.items()
            }
            self.fast = {
                op: fn
                for op, fn in self.callers.items()
                if op in implemented
                and not (self.read_only and self.specs[op].readonly is not True)
            }
            for op, have in stream_providers.items():
                if len(have) > 1:
                    self.fast.pop(op, None)
                    for provider in have:
                        self.stream_callers[(op, id(provider))] = bound[(PREFIX + op, id(provider))]

    def _callers(self, pm: pluggy.PluginManager, owners: dict[str, Any]) -> dict[str, Any]:
        """For each hook, the hook caller that reaches only its winning provider (and every
        wrapper): a service's impl of a hook the driver also implements is never called."""
        out: dict[str, Any] = {}
        for hook, owner in owners.items():
            losers = [
                impl.plugin
                for impl in getattr(pm.hook, hook).get_hookimpls()
                if impl.plugin is not owner and impl.plugin in self.providers
                and not (impl.hookwrapper or impl.wrapper)
            ]
            caller = getattr(pm.hook, hook)
            out[hook[len(PREFIX):]] = pm.subset_hook_caller(hook, losers) if losers else caller
        return out

    def _fast_calls(self, pm: pluggy.PluginManager) -> dict[str, Callable[..., Any]]:
        """Operations served by one provider's impl with no wrapper: called without pluggy's
        machinery (after the same checks), passing what pluggy would (the impl's own argument
        names). On a read-only connection only always-read-only operations are here."""
        fast: dict[str, Callable[..., Any]] = {}
        for op, owner in self.owner.items():
            if op not in self.implemented:
                continue
            caller = getattr(pm.hook, PREFIX + op)
            impls = [i for i in caller.get_hookimpls() if i.plugin is owner or
                     i.hookwrapper or i.wrapper or i.plugin not in self.providers]
            if len(impls) != 1 or impls[0].hookwrapper or impls[0].wrapper:
                continue
            if self.read_only and self.specs[op].readonly is not True:
                continue
            function, argnames = impls[0].function, tuple(impls[0].argnames)
            spec_args = caller.spec.argnames if caller.spec else ()
            if set(argnames) == set(spec_args):
                fast[op] = function
            else:
                fast[op] = _adapter(function, argnames)
        return fast

    def opened(self) -> None:
        """After ``connect_open``: apply what the driver says it serves
        (``implemented_operations()``, which a forwarding or client-side driver knows only once
        connected) and take its name again (a remote driver names the far one)."""
        restrict = getattr(self.driver, "implemented_operations", lambda: None)()
        if restrict is not None:
            self.implemented = self.implemented & frozenset(restrict)
            self.fast = {op: fn for op, fn in self.fast.items() if op in self.implemented}
        self.driver_name = getattr(self.driver, "name", None) or self.driver_name

    # -- calls ------------------------------------------------------------------------------

    def implements(self, op: str) -> bool:
        return op in self.implemented

    def call(self, op: str, kwargs: dict[str, Any]) -> Any:
        """Call operation ``op`` with ``kwargs`` through every check (see the module docs)."""
        if self.timeout is not None:
            return self._bounded(op, kwargs)
        return self._call(op, kwargs)

    def caller(self) -> Callable[[str, dict[str, Any]], Any]:
        """What :meth:`call` does, as the function to hold: :meth:`call` itself when calls have
        a timeout, else the checked call without :meth:`call`'s timeout test (one Python call
        less per call; the timeout is set before the connection hands its caller out)."""
        return self.call if self.timeout is not None else self._call

    def _bounded(self, op: str, kwargs: dict[str, Any]) -> Any:
        """The call, on a worker thread, waited for at most ``timeout`` seconds.

        A driver stuck in a call (a hung hypervisor, a lock held forever) then costs its caller
        OPERATION_TIMEOUT instead of a hang; the driver's thread goes on, and its late result is
        dropped.
        """
        import concurrent.futures

        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                max_workers=4, thread_name_prefix="virtkit-call"
            )
        future = self._pool.submit(self._call, op, kwargs)
        try:
            return future.result(timeout=self.timeout)
        except concurrent.futures.TimeoutError:
            raise VirtError(
                ErrorCode.OPERATION_TIMEOUT,
                f"operation timed out: {op} on '{self.uri_text}' did not finish within "
                f"{self.timeout:g} s (the driver may still be working on it)",
            ) from None

    def _call(self, op: str, kwargs: dict[str, Any]) -> Any:
        spec = self.specs.get(op)
        fast = self.fast.get(op)
        if fast is None:
            self._refuse(op, spec, kwargs)
            assert spec is not None
        kwargs = spec.check_args(kwargs)  # type: ignore[union-attr]
        try:
            if fast is not None:
                result = fast(**kwargs)
            elif spec.uses_stream and self.stream_callers:  # type: ignore[union-attr]
                result = self._stream_call(op, kwargs)
            else:
                result = self.callers[op](**kwargs)
        except VirtError:
            raise
        except KeyboardInterrupt:
            raise VirtError(
                ErrorCode.OPERATION_ABORTED,
                f"operation aborted: {op} on '{self.uri_text}' was interrupted",
            ) from None
        except BaseException as exc:
            if isinstance(exc, GeneratorExit):
                raise
            raise self.internal(op, exc) from exc
        if type(result) is not spec.result_type:  # type: ignore[union-attr]
            result = self._check_result(op, spec, result)  # type: ignore[arg-type]
        if spec.opens_stream and self.stream_callers:  # type: ignore[union-attr]
            self.stream_owner[result] = self.owner[op]
        return result

    def _stream_call(self, op: str, kwargs: dict[str, Any]) -> Any:
        """A ``stream_*`` call, to the provider that opened the stream (unknown ids go to the
        default provider, which answers INVALID_STREAM)."""
        owner = self.stream_owner.get(kwargs["stream"], self.owner.get(op))
        caller = self.stream_callers.get((op, id(owner))) or self.callers[op]
        result = caller(**kwargs)
        if op in ("stream_finish", "stream_abort"):
            self.stream_owner.pop(kwargs["stream"], None)
        return result

    def close(self) -> None:
        """Mark the connection closed and close its host services (their ``close()``, if they
        have one: a service releases what it holds for this connection)."""
        self.closed = True
        self.fast = {}
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        for provider in self.providers[1:]:
            closer = getattr(provider, "close", None)
            if callable(closer):
                try:
                    closer()
                except Exception:
                    log.exception("host service '%s' failed to close", _who(provider))

    def _refuse(self, op: str, spec: OpSpec | None, kwargs: Mapping[str, Any]) -> None:
        if self.closed:
            raise VirtError(ErrorCode.INVALID_CONN, f"invalid connection pointer in {op}: "
                            f"the connection to '{self.uri_text}' is closed")
        if spec is None:
            raise VirtError(ErrorCode.INVALID_ARG, f"invalid argument: unknown operation "
                            f"'{op}'")
        if self.read_only and not spec.allowed_read_only(kwargs):
            because = f" {spec.denied_because}" if spec.denied_because and \
                spec.readonly is not False else ""
            raise VirtError(
                ErrorCode.OPERATION_DENIED,
                f"operation forbidden: read only access prevents {op}{because}",
            )
        if op not in self.implemented:
            raise no_support(op, self.driver_name)

    def _check_result(self, op: str, spec: OpSpec, result: Any) -> Any:
        if result is None:
            if spec.optional_result:
                return None
            raise self._bad_result(op, "returned no result")
        check = spec.deep_result if self.deep else spec.result
        if check is not None and not check(result):
            raise self._bad_result(op, f"returned {type(result).__name__}, which is not what "
                                       f"the hookspec declares")
        return result

    def _bad_result(self, op: str, what: str) -> VirtError:
        who = _who(self.owner.get(op, self.driver))
        log.error("provider '%s' %s for %s", who, what, op)
        return VirtError(ErrorCode.INTERNAL_ERROR,
                         f"internal error: driver '{who}' {what} for {op}")

    def internal(self, op: str, exc: BaseException) -> VirtError:
        who = _who(self.owner.get(op, self.driver))
        origin = getattr(exc, "virtkit_plugin", None)
        if origin is not None:
            who_text = f"plugin '{origin}'"
        else:
            who_text = f"driver '{who}'"
        log.error("%s failed in %s", who_text, op, exc_info=exc)
        return VirtError(
            ErrorCode.INTERNAL_ERROR,
            f"internal error: {who_text} failed in {op}: {type(exc).__name__}: {exc}",
        )


def _adapter(function: Callable[..., Any], argnames: tuple[str, ...]) -> Callable[..., Any]:
    """Call ``function`` with only the arguments it declares, as pluggy does."""

    def call(**kwargs: Any) -> Any:
        return function(*[kwargs[a] for a in argnames])

    return call
