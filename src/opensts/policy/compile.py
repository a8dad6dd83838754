"""Compile a parsed policy into matchers, once per document (the parser caches by content hash).

Statements are indexed by the service prefix of their actions, and each policy memoises which
statements' Action/NotAction match a given action, so a request only touches statements that
can apply to it; what remains per request is the resource, principal and condition checks.
"""
from __future__ import annotations

from typing import Callable, Iterable

from .conditions import Ctx, compile_condition
from .model import Effect, Policy, PolicyKind, Statement
from .principals import DIRECT_MATCH, NO_MATCH, PrincipalMatcher
from .request import Principal
from .variables import TemplateGlob, has_variables, parse_template, substitute, variable_names
from .wildcard import PatternSet, glob_covers, glob_intersects

_MEMO_MAX = 2048


class ResourceMatcher:
    """Resource or NotResource patterns, static ones pre-compiled, variable ones per request."""

    __slots__ = ("static", "templates")

    def __init__(self, patterns: Iterable[str], variables: bool) -> None:
        static: list[str] = []
        templates: list[TemplateGlob] = []
        for p in patterns:
            if variables and has_variables(p):
                templates.append(TemplateGlob(parse_template(p)))
            else:
                static.append(p)
        self.static = PatternSet(static)
        self.templates = tuple(templates)

    def matches(self, resource: str, ctx: Ctx) -> bool:
        if self.static.matches(resource):
            return True
        return self.templates_match(resource, ctx)

    def templates_match(self, resource: str, ctx: Ctx) -> bool:
        for t in self.templates:
            if t.fullmatch(resource, ctx):
                return True
        return False

    def _texts(self, ctx: Ctx) -> list[str]:
        out = list(self.static.patterns)
        for t in self.templates:
            text = substitute(t.template, ctx)
            if text is not None:
                out.append(text)
        return out

    def intersects(self, pattern: str, ctx: Ctx) -> bool:
        return any(glob_intersects(p, pattern) for p in self._texts(ctx))

    def covers(self, pattern: str, ctx: Ctx) -> bool:
        return any(glob_covers(p, pattern) for p in self._texts(ctx))


class CompiledStatement:
    __slots__ = (
        "statement", "allow", "actions", "not_action", "resources", "not_resource", "principal",
        "not_principal", "needs_principal", "conditions", "services", "r_all", "r_exact", "r_prefixes",
        "r_regex", "r_templates", "check", "keys", "reads",
    )

    def __init__(self, stmt: Statement, policy: Policy) -> None:
        variables = policy.uses_variables
        self.statement = stmt
        self.allow = stmt.effect is Effect.ALLOW
        self.not_action = stmt.not_action is not None
        self.actions = PatternSet(stmt.action if stmt.action is not None else stmt.not_action or (), ignore_case=True)
        # Index by service prefix; NotAction and wildcard services can match anything.
        services: set[str] | None = set()
        if self.not_action:
            services = None
        else:
            for a in self.actions.patterns:
                prefix, sep, _ = a.partition(":")
                if not sep or "*" in prefix or "?" in prefix:
                    services = None
                    break
                services.add(prefix)  # type: ignore[union-attr]
        self.services = services
        pats = stmt.resource if stmt.resource is not None else stmt.not_resource
        self.not_resource = stmt.not_resource is not None
        self.resources = ResourceMatcher(pats, variables) if pats is not None else None
        # Flattened copies for the evaluator's inlined hot loop (attribute reads, no calls).
        rm = self.resources
        self.r_all = rm is None or rm.static.match_all
        self.r_exact = rm.static.exact if rm is not None else frozenset()
        self.r_prefixes = rm.static.prefixes if rm is not None else ()
        self.r_regex = rm.static.regex.fullmatch if rm is not None and rm.static.regex is not None else None
        self.r_templates = rm.templates if rm is not None else ()
        self.principal = self.not_principal = None
        if stmt.principal is not None:
            self.principal = PrincipalMatcher(stmt.principal)
        elif stmt.not_principal is not None:
            self.not_principal = PrincipalMatcher(stmt.not_principal)
        # Resource-side policies: a statement without Principal never applies (it names no one).
        self.needs_principal = policy.kind in (PolicyKind.RESOURCE, PolicyKind.TRUST, PolicyKind.RCP)
        self.conditions: tuple[Callable[[Ctx], bool], ...] = tuple(
            compile_condition(c, variables) for c in stmt.conditions
        )
        self.check = _make_check(self)
        # Every context key this statement's checks can read, as written in the policy (IAM's
        # simulator reports them so), and the same keys lower-cased as the request context holds
        # them. Nothing else in the statement reads the context.
        self.keys: tuple[str, ...] = statement_keys(stmt, variables)
        self.reads: frozenset[str] = frozenset(key.lower() for key in self.keys)

    def action_matches(self, action_lc: str) -> bool:
        return self.actions.matches(action_lc) != self.not_action

    def principal_kind(self, p: Principal) -> int:
        """How this statement names ``p`` (see principals.py); DIRECT when it has no principal
        element and does not need one (identity-like policies)."""
        if self.principal is not None:
            return self.principal.match(p)
        if self.not_principal is not None:
            # Only the principals NotPrincipal names are exempt (see principals.py).
            return NO_MATCH if self.not_principal.names(p) else DIRECT_MATCH
        return NO_MATCH if self.needs_principal else DIRECT_MATCH

    def resource_matches(self, resource: str, ctx: Ctx, pattern_mode: bool = False) -> bool:
        rm = self.resources
        if rm is None:
            return True
        if not pattern_mode:
            return rm.matches(resource, ctx) != self.not_resource
        # The request resource stands for many resources: an Allow applies if it can grant some
        # of them, a Deny only if it denies all of them.
        if self.allow:
            return (not rm.covers(resource, ctx)) if self.not_resource else rm.intersects(resource, ctx)
        return (not rm.intersects(resource, ctx)) if self.not_resource else rm.covers(resource, ctx)

    def conditions_hold(self, ctx: Ctx) -> bool:
        for cond in self.conditions:
            if not cond(ctx):
                return False
        return True


def statement_keys(stmt: Statement, variables: bool) -> tuple[str, ...]:
    """The context keys a statement's checks can read, as written, each once (case-insensitively,
    first spelling kept): its condition keys, then, when the policy substitutes variables
    (``variables``: Version 2012-10-17), the keys of the variables in its Resource or NotResource
    and in its condition values. Linear in the statement's text."""
    keys = [c.key for c in stmt.conditions]
    if variables:
        texts = (*(stmt.resource or ()), *(stmt.not_resource or ()), *(v for c in stmt.conditions for v in c.values))
        for text in texts:
            if has_variables(text):
                keys.extend(variable_names(text))
    seen: set[str] = set()
    unique: list[str] = []
    for key in keys:
        low = key.lower()
        if low not in seen:
            seen.add(low)
            unique.append(key)
    return tuple(unique)


def _always(resource: str, ctx: Ctx) -> bool:
    return True


def _never(resource: str, ctx: Ctx) -> bool:
    return False


def _make_check(cs: "CompiledStatement") -> Callable[[str, Ctx], bool]:
    """One closure per statement, specialised to its shape, testing resource (literal request
    resource) and conditions. This is the innermost call of every decision, so the common shapes
    (``*``, one exact ARN, prefixes, no conditions) get a body of one or two operations."""
    conds = cs.conditions
    negate = cs.not_resource
    res: Callable[[str, Ctx], bool] | None
    if cs.r_all:
        if negate:
            return _never
        res = None
    else:
        exact, prefixes, regex, rm = cs.r_exact, cs.r_prefixes, cs.r_regex, cs.resources
        kinds = (bool(exact), bool(prefixes), regex is not None, bool(cs.r_templates))
        if kinds == (True, False, False, False):
            if len(exact) == 1:
                (only,) = tuple(exact)
                res = (lambda r, ctx: r != only) if negate else (lambda r, ctx: r == only)
            else:
                res = (lambda r, ctx: r not in exact) if negate else (lambda r, ctx: r in exact)
        elif kinds == (False, True, False, False):
            res = (lambda r, ctx: not r.startswith(prefixes)) if negate else (lambda r, ctx: r.startswith(prefixes))
        elif kinds == (False, False, True, False):
            res = (lambda r, ctx: regex(r) is None) if negate else (lambda r, ctx: regex(r) is not None)  # type: ignore[misc]
        else:
            matches = rm.matches  # type: ignore[union-attr]
            res = (lambda r, ctx: not matches(r, ctx)) if negate else matches
    if not conds:
        return res if res is not None else _always
    if len(conds) == 1:
        (c0,) = conds
        if res is None:
            return lambda r, ctx: c0(ctx)
        return lambda r, ctx: res(r, ctx) and c0(ctx)

    def with_conditions(r: str, ctx: Ctx) -> bool:
        if res is not None and not res(r, ctx):
            return False
        for c in conds:
            if not c(ctx):
                return False
        return True

    return with_conditions


Split = tuple[tuple[CompiledStatement, ...], tuple[CompiledStatement, ...]]
_EMPTY: Split = ((), ())


class CompiledPolicy:
    __slots__ = ("policy", "statements", "by_service", "wild", "_memo")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.statements = tuple(CompiledStatement(s, policy) for s in policy.statements)
        by_service: dict[str, list[CompiledStatement]] = {}
        wild: list[CompiledStatement] = []
        for cs in self.statements:
            if cs.services is None:
                wild.append(cs)
            else:
                for svc in cs.services:
                    by_service.setdefault(svc, []).append(cs)
        self.by_service = {k: tuple(v) for k, v in by_service.items()}
        self.wild = tuple(wild)
        self._memo: dict[str, Split] = {}

    def split(self, action_lc: str) -> Split:
        """(Deny statements, Allow statements) whose Action/NotAction matches the lower-cased
        action, each in document order. Memoised per action (bounded)."""
        found = self._memo.get(action_lc)
        if found is None:
            service = action_lc.partition(":")[0]
            pool = self.by_service.get(service, ()) + self.wild
            if len(pool) > 1:
                pool = tuple(sorted(set(pool), key=lambda c: c.statement.index))
            hits = [cs for cs in pool if cs.action_matches(action_lc)]
            found = (tuple(c for c in hits if not c.allow), tuple(c for c in hits if c.allow))
            if not hits:
                found = _EMPTY
            if len(self._memo) >= _MEMO_MAX:
                self._memo.clear()
            self._memo[action_lc] = found
        return found

    def candidates(self, action_lc: str) -> tuple[CompiledStatement, ...]:
        """All statements whose Action/NotAction matches, in document order."""
        denies, allows = self.split(action_lc)
        return tuple(sorted(denies + allows, key=lambda c: c.statement.index))


def compile_policy(policy: Policy) -> CompiledPolicy:
    return CompiledPolicy(policy)
