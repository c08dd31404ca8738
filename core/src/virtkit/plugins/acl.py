"""Access control: who may do which operation to which object, from a rules file.

Active when ``VIRTKIT_ACCESS_RULES`` names a TOML file (virtkitd sets it from its
``access_rules_file`` key). Once active, everything is denied unless a rule allows it. A rule::

    [[rule]]
    who = { group = "ops" }            # user, uid, group, dn (x509 DN pattern), sasl_user,
                                       # or the string "everyone"
    allow = ["domain.start", "domain.shutdown"]
    objects = ["web*"]                 # name patterns; absent: every object

A permission is ``OBJECT.ACTION`` where OBJECT is the first word of the operation
(``domain``, ``network``, ``pool``, ``vol``, ``interface``, ``snapshot``, ``node``, ``connect``,
``stream``, ``migrate``...) and ACTION the rest (``domain_suspend`` -> ``domain.suspend``);
``domain.start`` also names ``domain_create``/``domain_create_xml`` and ``domain.stop``
``domain_destroy``. Every read-only operation is also ``OBJECT.read``. Patterns may use ``*``
(``domain.*``, ``*.read``). Listings are filtered to the objects the caller may read; a lookup
of an object the caller may not read answers as if the object did not exist would leak nothing
more than NO_DOMAIN, so it is refused with ACCESS_DENIED naming only the operation. The caller is
the connection's identity (uid, user and groups from the socket; certificate DN; SCRAM user).
"""

from __future__ import annotations

import fnmatch
import os
import threading
import tomllib
from collections.abc import Callable
from typing import Any

import attrs

from virtkit.sdk.driver import DriverContext, Identity
from virtkit.sdk.errors import ErrorCode, ErrorDomain, VirtError
from virtkit.sdk.hookspecs import PREFIX, all_specs, readonly_ops
from virtkit.sdk.wrap import Around, wrap_every_hook

ALIASES: dict[str, tuple[str, ...]] = {
    "domain_create": ("domain.start",),
    "domain_create_xml": ("domain.start",),
    "domain_destroy": ("domain.stop",),
    "domain_undefine": ("domain.delete",),
    "domain_define_xml": ("domain.write",),
    "network_create": ("network.start",),
    "network_destroy": ("network.stop",),
    "pool_create": ("pool.start",),
    "pool_destroy": ("pool.stop",),
}
#: Operations whose object is only known from their result (checked after the call, a read).
_BY_RESULT = ("_lookup_by_uuid", "_lookup_by_id", "_lookup_by_key", "_lookup_by_path",
              "_lookup_by_mac", "domain_restore")
#: Operations that make an object from XML: its name is read (hardened parser) only after the
#: caller was found to hold the permission for some object.
_FROM_XML = ("_define_xml", "_create_xml")

_REF_ARGS = ("dom", "net", "pool", "vol", "iface", "snapshot", "source", "port")


@attrs.frozen
class Rule:
    who: dict[str, Any] | str
    allow: tuple[str, ...]
    objects: tuple[str, ...] | None

    def applies_to(self, ident: Identity) -> bool:
        if self.who == "everyone":
            return True
        if not isinstance(self.who, dict):
            return False
        checks: dict[str, Callable[[Any], bool]] = {
            "user": lambda v: ident.user == v,
            "uid": lambda v: ident.uid == v,
            "group": lambda v: v in ident.groups,
            "dn": lambda v: ident.x509_dname is not None
            and fnmatch.fnmatchcase(ident.x509_dname, v),
            "sasl_user": lambda v: ident.sasl_user == v,
        }
        return bool(self.who) and all(checks[k](v) for k, v in self.who.items())

    def grants(self, perms: tuple[str, ...], name: str | None) -> bool:
        if not any(fnmatch.fnmatchcase(p, pattern) for p in perms for pattern in self.allow):
            return False
        if self.objects is None:
            return True
        if name is None:
            return False
        return any(fnmatch.fnmatchcase(name, pattern) for pattern in self.objects)


_WHO_KEYS = frozenset({"user", "uid", "group", "dn", "sasl_user"})
_cache: dict[str, tuple[float, tuple[Rule, ...]]] = {}
_cache_lock = threading.Lock()


def load_rules(path: str) -> tuple[Rule, ...]:
    """The rules of ``path`` (re-read when the file changes); VirtError naming the file and the
    rule when it is malformed."""
    try:
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        raise VirtError(ErrorCode.CONF_SYNTAX, f"cannot read access rules '{path}': "
                        f"{exc.strerror}", ErrorDomain.ACCESS) from None
    with _cache_lock:
        cached = _cache.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise VirtError(ErrorCode.CONF_SYNTAX, f"access rules '{path}': {exc}",
                        ErrorDomain.ACCESS) from None
    rules = []
    for n, raw in enumerate(data.get("rule", []), 1):
        where = f"access rules '{path}', rule {n}"
        who = raw.get("who")
        if who != "everyone" and not (isinstance(who, dict) and who
                                      and set(who) <= _WHO_KEYS):
            raise VirtError(ErrorCode.CONF_SYNTAX, f"{where}: 'who' must be \"everyone\" or a "
                            f"table of {', '.join(sorted(_WHO_KEYS))}", ErrorDomain.ACCESS)
        allow = raw.get("allow")
        if not isinstance(allow, list) or not all(isinstance(a, str) for a in allow):
            raise VirtError(ErrorCode.CONF_SYNTAX, f"{where}: 'allow' must be a list of "
                            f"permissions", ErrorDomain.ACCESS)
        objects = raw.get("objects")
        if objects is not None and not (isinstance(objects, list)
                                        and all(isinstance(o, str) for o in objects)):
            raise VirtError(ErrorCode.CONF_SYNTAX, f"{where}: 'objects' must be a list of "
                            f"name patterns", ErrorDomain.ACCESS)
        rules.append(Rule(who, tuple(allow), tuple(objects) if objects is not None else None))
    with _cache_lock:
        _cache[path] = (mtime, tuple(rules))
    return tuple(rules)


def permissions(op: str) -> tuple[str, ...]:
    """The permissions that allow ``op``: ``OBJECT.ACTION``, its aliases, and ``OBJECT.read``
    for a read-only operation."""
    obj, _, action = op.partition("_")
    perms = [f"{obj}.{action or obj}", *ALIASES.get(op, ())]
    if PREFIX + op in readonly_ops():
        perms.append(f"{obj}.read")
    return tuple(perms)


def _name_of(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "domain") and hasattr(value, "name") and hasattr(value.domain, "name"):
        return str(value.domain.name)  # a snapshot acts on its domain
    name = getattr(value, "name", None)
    return str(name) if name is not None else None


@wrap_every_hook
class AccessControl:
    """Checks every operation against the rules file named by ``VIRTKIT_ACCESS_RULES``."""

    name = "acl"

    def __init__(self, context: DriverContext) -> None:
        self.path = os.environ.get("VIRTKIT_ACCESS_RULES") or None
        self.active = self.path is not None
        ident = getattr(context, "identity", None)
        self.identity: Identity = ident if ident is not None else Identity.of_process()
        self._specs = all_specs()

    def _rules(self) -> list[Rule]:
        assert self.path is not None
        return [r for r in load_rules(self.path) if r.applies_to(self.identity)]

    def allowed(self, op: str, name: str | None) -> bool:
        perms = permissions(op)
        return any(rule.grants(perms, name) for rule in self._rules())

    def _anywhere(self, op: str) -> bool:
        perms = permissions(op)
        return any(any(fnmatch.fnmatchcase(p, a) for p in perms for a in rule.allow)
                   for rule in self._rules())

    def _deny(self, op: str, name: str | None) -> VirtError:
        who = (self.identity.user or self.identity.sasl_user or self.identity.x509_dname
               or f"uid {self.identity.uid}")
        target = f" on '{name}'" if name else ""
        return VirtError(ErrorCode.ACCESS_DENIED, f"access denied: {who} may not "
                         f"{permissions(op)[0]}{target}", ErrorDomain.ACCESS)

    def around(self, op: str, args: dict[str, Any]) -> Around:
        if op in ("connect_open", "connect_close", "connect_probe"):
            return (yield)
        ref = next((args[k] for k in _REF_ARGS if args.get(k) is not None), None)
        if ref is not None:
            name = _name_of(ref)
            if not self.allowed(op, name):
                raise self._deny(op, name)
        elif op.endswith("_lookup_by_name"):
            if not self.allowed(op, args.get("name")):
                raise self._deny(op, args.get("name"))
        elif op.endswith(_FROM_XML) and isinstance(args.get("xml"), str):
            if not self._anywhere(op):
                raise self._deny(op, None)
            name = _xml_name(args["xml"])
            if not self.allowed(op, name):
                raise self._deny(op, name)
        elif op.endswith(_BY_RESULT):
            if not self._anywhere(op):
                raise self._deny(op, None)
        elif not op.endswith("_list") and not self.allowed(op, None):
            raise self._deny(op, None)
        result = yield
        if op.endswith(_BY_RESULT):
            name = _name_of(result)
            if not self.allowed(op, name):
                raise self._deny(op, name)
        if op.endswith("_list") and isinstance(result, list):
            result = [item for item in result
                      if self.allowed(op, _name_of(getattr(item, "ref", item)))]
        return result


def _xml_name(xml: str) -> str | None:
    from virtkit.xml.parser import parse_document

    try:
        root = parse_document(xml, "object")
    except VirtError:
        return None
    found = root.find("name")
    return found.text if found is not None else None
