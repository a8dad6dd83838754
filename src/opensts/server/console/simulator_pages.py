"""The policy simulator and decoding an authorization failure message.

- ``GET /console/simulator``: the form. Its principal field offers, in a ``<datalist>``, the first
  page of ``iam:ListUsers``, ``iam:ListRoles`` and ``iam:ListGroups`` (a list the principal may not
  read is left out, with a note).
- ``POST /console/simulator``: with a principal ARN, ``iam:SimulatePrincipalPolicy``; with pasted
  policies, ``iam:SimulateCustomPolicy`` (identity policies, an optional permissions boundary; the
  resource policy and caller ARN go with either). The results: one row per action × resource (the
  ``ResourceSpecificResults`` when resources were given, else the action's result) with the
  decision, the matched statements (policy id and type), each highlighted in its policy's text, the
  missing context keys, the permissions boundary's decision and ``EvalDecisionDetails``. For a
  principal, the texts of the policies the matched statements point to are read as the signed-in
  principal: ``iam:GetUserPolicy``/``GetRolePolicy``/``GetGroupPolicy`` (``ListGroupsForUser`` for
  a user's groups), and for managed ones ``iam:ListAttached{User,Role,Group}Policies`` and
  ``GetUser``/``GetRole`` (the boundary) to find the ARN, then ``GetPolicy`` + ``GetPolicyVersion``.
  A text that cannot be read is said so in its row; the decision is still shown.
- ``GET /console/decode``, ``POST /console/decode``: ``sts:DecodeAuthorizationMessage`` on a pasted
  message, shown as a summary and as pretty-printed JSON.

Inputs are bounded (``MAX_*``). Deviations from AWS's console: one simulation call per run (at
most ``MAX_ACTIONS`` actions, no "simulate all actions of a service"); no ResourceHandlingOption
(EC2 scenarios); highlighted policy text on the page is bounded (``MAX_HIGHLIGHT_CHARS``: beyond it,
only the statement itself is shown).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from opensts.server.console.api_calls import ApiCallFailed
from opensts.server.console.site import Console, ConsoleError, Page

MAX_ACTIONS = 50
MAX_RESOURCES = 20
MAX_POLICIES = 5  # pasted identity policies
MAX_CONTEXT_KEYS = 10
MAX_CONTEXT_VALUES = 20
MAX_POLICY_CHARS = 131072
MAX_POLICY_FETCHES = 40  # API calls made to read matched policies' texts, per run
MAX_HIGHLIGHT_CHARS = 400_000  # policy text rendered with highlights, per page
MAX_MATCHED_SHOWN = 5  # matched statements shown per result row (an explicit deny matches every Deny)
MAX_MESSAGE_CHARS = 12000  # an encoded message is at most 10,240 characters, plus pasted whitespace
CONTEXT_TYPES = (
    "string", "stringList", "numeric", "numericList", "boolean", "booleanList", "ip", "ipList", "binary",
    "binaryList", "date", "dateList",
)
Spans = list[tuple[str, bool]]  # (text, highlighted)


# --- The form -----------------------------------------------------------------------------------
@dataclass
class ContextRow:
    key: str = ""
    type: str = "string"
    values: str = ""  # one per line

    def value_list(self) -> list[str]:
        return [v.strip() for v in self.values.splitlines() if v.strip()]


@dataclass
class SimulatorForm:
    mode: str = "principal"  # principal | custom
    principal: str = ""
    caller: str = ""
    policies: list[str] = field(default_factory=list)
    boundary: str = ""
    resource_policy: str = ""
    actions: str = ""
    resources: str = ""
    context: list[ContextRow] = field(default_factory=list)

    @property
    def action_list(self) -> list[str]:
        return _lines(self.actions)

    @property
    def resource_list(self) -> list[str]:
        return _lines(self.resources)

    def policy_slots(self) -> list[str]:
        """The identity policy text areas to show: those filled, and one more (at least two)."""
        filled = [p for p in self.policies if p.strip()]
        return (filled + [""] * 2)[: max(2, min(MAX_POLICIES, len(filled) + 1))]

    def context_slots(self) -> list[ContextRow]:
        filled = [c for c in self.context if c.key.strip()]
        return (filled + [ContextRow() for _ in range(3)])[: max(3, min(MAX_CONTEXT_KEYS, len(filled) + 2))]

    def check(self) -> None:
        """ConsoleError for a form the simulator will not send (caps, missing parts)."""
        if not self.action_list:
            raise ConsoleError("Give at least one action, e.g. s3:GetObject (one per line).")
        if len(self.action_list) > MAX_ACTIONS:
            raise ConsoleError(f"At most {MAX_ACTIONS} actions per simulation.")
        if len(self.resource_list) > MAX_RESOURCES:
            raise ConsoleError(f"At most {MAX_RESOURCES} resources per simulation.")
        if self.mode == "principal" and not self.principal.strip():
            raise ConsoleError("Choose a user, group or role (its ARN), or simulate pasted policies.")
        if self.mode == "custom" and not any(p.strip() for p in self.policies):
            raise ConsoleError("Paste at least one identity policy.")
        if len([p for p in self.policies if p.strip()]) > MAX_POLICIES:
            raise ConsoleError(f"At most {MAX_POLICIES} identity policies.")
        if len([c for c in self.context if c.key.strip()]) > MAX_CONTEXT_KEYS:
            raise ConsoleError(f"At most {MAX_CONTEXT_KEYS} context keys.")
        for row in self.context:
            if row.key.strip() and row.type not in CONTEXT_TYPES:
                raise ConsoleError(f"Context key {row.key}: unknown type {row.type}.")
            if len(row.value_list()) > MAX_CONTEXT_VALUES:
                raise ConsoleError(f"Context key {row.key}: at most {MAX_CONTEXT_VALUES} values.")
        texts = [*self.policies, self.boundary, self.resource_policy]
        if any(len(t) > MAX_POLICY_CHARS for t in texts):
            raise ConsoleError(f"A policy may have at most {MAX_POLICY_CHARS} characters.")

    def params(self) -> tuple[str, dict[str, str]]:
        """(the action to call, its Query parameters)."""
        params: dict[str, str] = {}
        if self.mode == "principal":
            action = "SimulatePrincipalPolicy"
            params["PolicySourceArn"] = self.principal.strip()
        else:
            action = "SimulateCustomPolicy"
            for i, text in enumerate([p for p in self.policies if p.strip()], 1):
                params[f"PolicyInputList.member.{i}"] = text
            if self.boundary.strip():
                params["PermissionsBoundaryPolicyInputList.member.1"] = self.boundary
        if self.resource_policy.strip():
            params["ResourcePolicy"] = self.resource_policy
        if self.caller.strip():
            params["CallerArn"] = self.caller.strip()
        for i, name in enumerate(self.action_list, 1):
            params[f"ActionNames.member.{i}"] = name
        for i, arn in enumerate(self.resource_list, 1):
            params[f"ResourceArns.member.{i}"] = arn
        rows = [c for c in self.context if c.key.strip()]
        for i, row in enumerate(rows, 1):
            prefix = f"ContextEntries.member.{i}"
            params[f"{prefix}.ContextKeyName"] = row.key.strip()
            params[f"{prefix}.ContextKeyType"] = row.type
            for j, value in enumerate(row.value_list(), 1):
                params[f"{prefix}.ContextKeyValues.member.{j}"] = value
        params["MaxItems"] = str(MAX_ACTIONS)
        return action, params


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def read_simulator_form(values: dict[str, list[str]]) -> SimulatorForm:
    def one(name: str) -> str:
        return (values.get(name) or [""])[0]

    keys, types, context_values = values.get("ctx_key", []), values.get("ctx_type", []), values.get("ctx_values", [])
    context = [
        ContextRow(key, types[i] if i < len(types) else "string", context_values[i] if i < len(context_values) else "")
        for i, key in enumerate(keys[: MAX_CONTEXT_KEYS * 2])
    ]
    return SimulatorForm(
        mode="custom" if one("mode") == "custom" else "principal", principal=one("principal"), caller=one("caller"),
        policies=values.get("policy", [])[: MAX_POLICIES * 2], boundary=one("boundary"),
        resource_policy=one("resource_policy"), actions=one("actions"), resources=one("resources"), context=context,
    )


# --- Results ------------------------------------------------------------------------------------
@dataclass
class MatchedStatement:
    policy_id: str
    policy_type: str
    start: tuple[int, int] | None
    end: tuple[int, int] | None
    spans: Spans | None = None  # the policy's text, the statement highlighted
    note: str | None = None  # why the text is not shown


@dataclass
class ResultRow:
    action: str
    resource: str
    decision: str
    matched: list[MatchedStatement]
    missing: list[str]
    boundary_allowed: bool | None
    details: dict[str, str] | None
    matched_hidden: int = 0  # matched statements beyond MAX_MATCHED_SHOWN, not shown


def result_rows(results: list[dict[str, Any]]) -> list[ResultRow]:
    """One row per action × resource, from the EvaluationResults."""
    rows: list[ResultRow] = []
    for result in results:
        action = str(result.get("EvalActionName", ""))
        per_resource = result.get("ResourceSpecificResults") or [
            {**result, "EvalResourceDecision": result.get("EvalDecision")}
        ]
        for r in per_resource:
            boundary = r.get("PermissionsBoundaryDecisionDetail") or result.get("PermissionsBoundaryDecisionDetail")
            rows.append(ResultRow(
                action, str(r.get("EvalResourceName", "*")), str(r.get("EvalResourceDecision", "")),
                [_matched(m) for m in r.get("MatchedStatements") or []],
                [str(k) for k in r.get("MissingContextValues") or []],
                bool(boundary["AllowedByPermissionsBoundary"]) if isinstance(boundary, dict) else None,
                r.get("EvalDecisionDetails") if isinstance(r.get("EvalDecisionDetails"), dict) else None,
            ))
    return rows


def _matched(m: dict[str, Any]) -> MatchedStatement:
    def position(p: Any) -> tuple[int, int] | None:
        return (int(p["Line"]), int(p["Column"])) if isinstance(p, dict) and "Line" in p and "Column" in p else None

    return MatchedStatement(str(m.get("SourcePolicyId", "")), str(m.get("SourcePolicyType", "none")),
                            position(m.get("StartPosition")), position(m.get("EndPosition")))


def line_starts(text: str) -> list[int]:
    """The offset at which each line of ``text`` starts (computed once per policy text)."""
    starts = [0]
    index = text.find("\n")
    while index != -1:
        starts.append(index + 1)
        index = text.find("\n", index + 1)
    return starts


def highlight(text: str, start: tuple[int, int], end: tuple[int, int], starts: list[int] | None = None) -> Spans:
    """``text`` cut in (text, highlighted) spans: the part from ``start`` to just before ``end``
    (1-based line and column, lines separated by ``\\n``) highlighted. ``starts``: its
    :func:`line_starts`, when the caller has them."""
    starts = line_starts(text) if starts is None else starts

    def offset(position: tuple[int, int]) -> int:
        line, column = position
        base = starts[min(max(line, 1), len(starts)) - 1]
        return min(max(base + column - 1, 0), len(text))

    a, b = offset(start), offset(end)
    if b <= a:
        return [(text, False)]
    return [(part, marked) for part, marked in ((text[:a], False), (text[a:b], True), (text[b:], False)) if part]


def attach_texts(rows: list[ResultRow], texts: dict[tuple[str, str], str | ApiCallFailed | None]) -> None:
    """Each matched statement with its policy's text highlighted, within the page's budget: at most
    MAX_MATCHED_SHOWN statements a row, and MAX_HIGHLIGHT_CHARS characters of text in all (a pasted
    policy of thousands of matching statements must not cost the server minutes)."""
    budget = MAX_HIGHLIGHT_CHARS
    starts: dict[int, list[int]] = {}  # id(text) -> its line starts
    for row in rows:
        if len(row.matched) > MAX_MATCHED_SHOWN:
            row.matched_hidden = len(row.matched) - MAX_MATCHED_SHOWN
            row.matched = row.matched[:MAX_MATCHED_SHOWN]
        for m in row.matched:
            text = texts.get((m.policy_type, m.policy_id))
            if isinstance(text, ApiCallFailed):
                m.note = f"The policy's text could not be read: {text.code} {text.message}"
            elif text is None:
                m.note = "The policy's text could not be found."
            elif m.start is None or m.end is None:
                m.note = "The statement's position is not known."
            elif budget <= 0:
                m.note = "The policy text is not shown (the page's limit of policy text is reached)."
            else:
                known = starts.get(id(text))
                if known is None:
                    known = starts[id(text)] = line_starts(text)
                spans = highlight(text, m.start, m.end, known)
                if len(text) > budget:  # only the statement
                    spans = [(part, True) for part, marked in spans if marked]
                    m.note = "Only the statement is shown (the page's limit of policy text is reached)."
                budget -= sum(len(part) for part, _ in spans)
                m.spans = spans


class PolicyTexts:
    """The texts of a principal's policies that matched statements point to, read with the
    signed-in principal's permissions (at most MAX_POLICY_FETCHES calls)."""

    def __init__(self, page: Page, principal_arn: str) -> None:
        self.page = page
        resource = principal_arn.split(":", 5)[-1]
        self.kind, _, rest = resource.partition("/")
        self.name = rest.rsplit("/", 1)[-1]
        self.calls = 0
        self._groups: list[str] | None = None
        self._managed: dict[str, str] | None = None

    async def _call(self, action: str, params: dict[str, str]) -> dict[str, Any]:
        if self.calls >= MAX_POLICY_FETCHES:
            raise ApiCallFailed("LimitExceeded", "The console reads at most "
                                f"{MAX_POLICY_FETCHES} policies' texts per simulation.", 400)
        self.calls += 1
        return await self.page.call("iam", action, params)

    async def text(self, policy_type: str, policy_id: str) -> str | ApiCallFailed | None:
        try:
            if policy_type == "user" and self.kind == "user":
                found = await self._call("GetUserPolicy", {"UserName": self.name, "PolicyName": policy_id})
                return unquote(str(found.get("PolicyDocument", "")))
            if policy_type == "role" and self.kind == "role":
                found = await self._call("GetRolePolicy", {"RoleName": self.name, "PolicyName": policy_id})
                return unquote(str(found.get("PolicyDocument", "")))
            if policy_type == "group":
                return await self._group_policy(policy_id)
            if policy_type in ("user-managed", "aws-managed"):
                arn = (await self._managed_arns()).get(policy_id)
                if arn is None:
                    return None
                policy = (await self._call("GetPolicy", {"PolicyArn": arn})).get("Policy", {})
                version = await self._call("GetPolicyVersion", {"PolicyArn": arn,
                                                                "VersionId": str(policy.get("DefaultVersionId", ""))})
                return unquote(str(version.get("PolicyVersion", {}).get("Document", "")))
        except ApiCallFailed as failed:
            return failed
        return None

    async def _groups_of_principal(self) -> list[str]:
        if self._groups is None:
            if self.kind == "group":
                self._groups = [self.name]
            elif self.kind == "user":
                listing = await self._call("ListGroupsForUser", {"UserName": self.name, "MaxItems": "100"})
                self._groups = [str(g.get("GroupName")) for g in listing.get("Groups") or []]
            else:
                self._groups = []
        return self._groups

    async def _group_policy(self, policy_name: str) -> str | ApiCallFailed | None:
        last: ApiCallFailed | None = None
        for group in await self._groups_of_principal():
            try:
                found = await self._call("GetGroupPolicy", {"GroupName": group, "PolicyName": policy_name})
                return unquote(str(found.get("PolicyDocument", "")))
            except ApiCallFailed as failed:
                if failed.code != "NoSuchEntity":
                    last = failed
        return last

    async def _managed_arns(self) -> dict[str, str]:
        """Managed policy name → ARN: those attached to the principal (and its groups), its boundary."""
        if self._managed is None:
            managed: dict[str, str] = {}
            owners: list[tuple[str, str]] = []
            if self.kind in ("user", "role"):
                owners.append((self.kind, self.name))
                entity = await self._call("GetUser" if self.kind == "user" else "GetRole",
                                          {"UserName" if self.kind == "user" else "RoleName": self.name})
                boundary = (entity.get("User") or entity.get("Role") or {}).get("PermissionsBoundary") or {}
                if boundary.get("PermissionsBoundaryArn"):
                    arn = str(boundary["PermissionsBoundaryArn"])
                    managed[arn.rsplit("/", 1)[-1]] = arn
            owners += [("group", g) for g in await self._groups_of_principal()]
            for kind, name in owners:
                listing = await self._call(f"ListAttached{kind.title()}Policies",
                                           {f"{kind.title()}Name": name, "MaxItems": "100"})
                for p in listing.get("AttachedPolicies") or []:
                    managed[str(p.get("PolicyName"))] = str(p.get("PolicyArn"))
            self._managed = managed
        return self._managed


async def policy_texts(page: Page, form: SimulatorForm, rows: list[ResultRow]) -> dict[tuple[str, str], str | ApiCallFailed | None]:
    """The text of each policy a matched statement points to: from the form, or read (see above)."""
    given: dict[tuple[str, str], str] = {("resource", "ResourcePolicy"): form.resource_policy}
    if form.mode == "custom":
        for i, text in enumerate([p for p in form.policies if p.strip()], 1):
            given[("none", f"PolicyInputList.{i}")] = text
        given[("none", "PermissionsBoundaryPolicyInputList.1")] = form.boundary
    out: dict[tuple[str, str], str | ApiCallFailed | None] = dict(given)
    fetcher = PolicyTexts(page, form.principal.strip()) if form.mode == "principal" else None
    for row in rows:
        for m in row.matched:
            key = (m.policy_type, m.policy_id)
            if key not in out:
                out[key] = await fetcher.text(*key) if fetcher is not None else None
    return out


async def principal_choices(page: Page) -> tuple[list[tuple[str, str]], list[str]]:
    """([(ARN, label)] for the datalist, notes on the lists that could not be read)."""
    lists = (("ListUsers", "Users", "users"), ("ListRoles", "Roles", "roles"), ("ListGroups", "Groups", "groups"))
    answers = await asyncio.gather(*(page.call("iam", action, {"MaxItems": "100"}) for action, _, _ in lists),
                                   return_exceptions=True)
    choices: list[tuple[str, str]] = []
    notes: list[str] = []
    for (action, key, label), answer in zip(lists, answers):
        if isinstance(answer, ApiCallFailed):
            notes.append(f"The {label} could not be listed: {answer.code}.")
            continue
        if isinstance(answer, BaseException):
            raise answer
        choices += [(str(e.get("Arn")), f"{label[:-1]} {e.get(key[:-1] + 'Name')}") for e in answer.get(key) or []]
    return choices, notes


# --- Decode -------------------------------------------------------------------------------------
@dataclass
class DecodedMessage:
    allowed: Any
    explicit_deny: Any
    action: Any
    resource: Any
    principal: dict[str, Any]
    matched: list[dict[str, Any]]
    failures: list[str]
    conditions: list[tuple[str, list[str]]]
    truncated: bool
    pretty: str


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_decoded(text: str) -> DecodedMessage:
    """The decoded message's parts the summary shows (absent parts are empty)."""
    try:
        doc = json.loads(text)
    except ValueError:
        doc = {}
    doc = doc if isinstance(doc, dict) else {}
    context = _object(doc.get("context"))

    def items(value: Any) -> list[Any]:
        found = value.get("items") if isinstance(value, dict) else None
        return found if isinstance(found, list) else []

    conditions = [
        (str(c.get("key")), [str(v.get("value")) for v in items(c.get("values")) if isinstance(v, dict)])
        for c in items(context.get("conditions")) if isinstance(c, dict)
    ]
    return DecodedMessage(
        doc.get("allowed"), doc.get("explicitDeny"), context.get("action"), context.get("resource"),
        _object(context.get("principal")),
        [m for m in items(doc.get("matchedStatements")) if isinstance(m, dict)],
        [str(f.get("reason")) for f in items(doc.get("failures")) if isinstance(f, dict)],
        conditions, bool(doc.get("truncated")), json.dumps(doc, indent=2, ensure_ascii=False) if doc else text,
    )


def simulator_query(decoded: DecodedMessage) -> str | None:
    """The simulator's query string for the decoded request (its principal as a user or role ARN,
    its action and resource), or None for a principal the simulator cannot take."""
    arn = str(decoded.principal.get("arn") or "")
    parts = arn.split(":", 5)
    if len(parts) != 6 or not isinstance(decoded.action, str):
        return None
    kind, _, rest = parts[5].partition("/")
    if parts[2] == "iam" and kind in ("user", "role"):
        principal = arn
    elif parts[2] == "sts" and kind == "assumed-role" and "/" in rest:
        principal = f"arn:{parts[1]}:iam::{parts[4]}:role/{rest.split('/', 1)[0]}"
    else:
        return None
    return urlencode({"principal": principal, "action": decoded.action, "resource": str(decoded.resource or "")})


# --- Pages --------------------------------------------------------------------------------------
def register(console: Console) -> None:
    @console.page("/console/simulator", name="simulator")
    async def simulator(page: Page) -> Response:
        choices, notes = await principal_choices(page)
        query = page.query  # prefilled from a link (the decoder's "Simulate this request")
        form = SimulatorForm(principal=str(query.get("principal", ""))[:2048],
                             actions=str(query.get("action", ""))[:256], resources=str(query.get("resource", ""))[:2048])
        return page.render("simulator.html", form=form, choices=choices, notes=notes, rows=None, types=CONTEXT_TYPES)

    @console.page("/console/simulator", name="simulator", method="POST")
    async def simulator_run(page: Page) -> Response:
        form = read_simulator_form(page.form_values)
        choices, notes = await principal_choices(page)

        def again(error: Exception, status: int) -> Response:
            return page.render("simulator.html", status, form=form, choices=choices, notes=notes, rows=None,
                               types=CONTEXT_TYPES, error=error)

        try:
            form.check()
        except ConsoleError as refused:
            return again(refused, refused.status)
        action, params = form.params()
        try:
            result = await page.call("iam", action, params)
        except ApiCallFailed as failed:
            return again(failed, failed.status)
        rows = result_rows(result.get("EvaluationResults") or [])
        texts = await policy_texts(page, form, rows)
        await run_in_threadpool(attach_texts, rows, texts)  # bounded, but off the event loop
        return page.render("simulator.html", form=form, choices=choices, notes=notes, rows=rows, types=CONTEXT_TYPES,
                           simulated_with=action, truncated=bool(result.get("IsTruncated")))

    @console.page("/console/decode", name="decode")
    async def decode(page: Page) -> Response:
        return page.render("decode.html", message="", decoded=None)

    @console.page("/console/decode", name="decode", method="POST")
    async def decode_run(page: Page) -> Response:
        message = page.form.get("message", "")
        if not message.strip() or len(message) > MAX_MESSAGE_CHARS:
            refused = ConsoleError(f"Paste an encoded message (at most {MAX_MESSAGE_CHARS} characters).")
            return page.render("decode.html", refused.status, message=message[:MAX_MESSAGE_CHARS], decoded=None,
                               error=refused)
        try:
            result = await page.call("sts", "DecodeAuthorizationMessage", {"EncodedMessage": message.strip()})
        except ApiCallFailed as failed:
            return page.render("decode.html", failed.status, message=message, decoded=None, error=failed)
        decoded = read_decoded(str(result.get("DecodedMessage", "")))
        return page.render("decode.html", message=message, decoded=decoded, simulate=simulator_query(decoded))
