"""Actions called in-process with typed requests: no HTTP, no signing, a real store (SQLite).

An action is a function of an ActionContext and its request dataclass; these tests call a few the
way the edge does after decoding, and check what a newcomer relies on when writing one: results are
typed, errors are typed AwsErrors, an IAM write is visible to the next read at once (the write drops
the process's caches as it commits), and secrets stay out of ``repr()`` and ``redacted()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from opensts.actions import ActionContext
from opensts.config import Settings
from opensts.errors import EntityAlreadyExists, NoSuchEntity
from opensts.fields import REDACTED, NoParameters, redacted
from opensts.iam import access_keys, users
from opensts.identity import arn
from opensts.identity.principal import Caller, PrincipalKind
from opensts.runtime import Runtime, open_runtime
from opensts.sts import caller_identity


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    rt = open_runtime(Settings(data_dir=tmp_path / "data"))
    try:
        yield rt
    finally:
        rt.close()


@pytest.fixture
def ctx(runtime: Runtime) -> ActionContext:
    account = runtime.default_account_id
    root = Caller(PrincipalKind.ROOT, account, arn.root_arn(account), account, "AKIAIOSFODNN7EXAMPLE")
    return ActionContext(runtime=runtime, caller=root, request_time=runtime.clock.now(), request_id="in-process")


def test_get_caller_identity_takes_no_parameters(ctx: ActionContext) -> None:
    result = caller_identity.get_caller_identity(ctx, NoParameters())
    assert (result.account, result.arn) == (ctx.runtime.default_account_id, ctx.caller.arn)  # type: ignore[union-attr]


def test_a_user_lifecycle_with_typed_requests(ctx: ActionContext) -> None:
    created = users.create_user(ctx, users.CreateUserRequest(user_name="alice", path="/team/"))
    assert created.user.arn.endswith(":user/team/alice") and created.user.path == "/team/"
    with pytest.raises(EntityAlreadyExists):
        users.create_user(ctx, users.CreateUserRequest(user_name="ALICE"))
    # The write dropped this process's caches as it committed: the next read sees it.
    listed = users.list_users(ctx, users.ListUsersRequest(path_prefix="/team/"))
    assert [u.user_name for u in listed.users] == ["alice"]
    users.delete_user(ctx, users.UserNameRequest(user_name="alice"))
    with pytest.raises(NoSuchEntity):
        users.get_user(ctx, users.GetUserRequest(user_name="alice"))


def test_a_new_secret_key_is_typed_and_hidden_from_logs(ctx: ActionContext) -> None:
    users.create_user(ctx, users.CreateUserRequest(user_name="bob"))
    key = access_keys.create_access_key(ctx, access_keys.CreateAccessKeyRequest(user_name="bob")).access_key
    assert len(key.secret_access_key) == 40
    assert key.secret_access_key not in repr(key)
    shown = redacted(key)
    assert shown["secretAccessKey"] == REDACTED and shown["accessKeyId"] == key.access_key_id
