"""The credential report: GenerateCredentialReport and GetCredentialReport
(https://docs.aws.amazon.com/IAM/latest/UserGuide/credential-reports.html,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GenerateCredentialReport.html,
https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetCredentialReport.html).

A CSV of every user of the account and the account root, one row each, with AWS's columns in AWS's
order (:data:`COLUMNS`). The first row after the header is ``<root_account>``, then the users by
name. Values are formatted as AWS writes them: times in ISO 8601 with an explicit UTC offset
(``2026-12-03T17:04:41+00:00``), ``true``/``false``, ``N/A`` where a credential does not exist or
was never used, ``not_supported`` where the root has no such setting.

- **GenerateCredentialReport** (``iam:GenerateCredentialReport`` on ``*``) makes a new report at most
  every four hours, as AWS: ``State`` is ``STARTED`` when this call began a new report,
  ``INPROGRESS`` while another call is still generating one, ``COMPLETE`` while the current report
  is younger than four hours. The report is generated within the call, so a ``STARTED`` report can
  be read at once (AWS generates it in the background; clients poll Generate until ``COMPLETE``,
  which the next call answers).
- **GetCredentialReport** (``iam:GetCredentialReport`` on ``*``): ``Content`` is the CSV, which the
  Query protocol carries base64-encoded (botocore decodes blob shapes back to bytes),
  ``ReportFormat`` ``text/csv``, ``GeneratedTime``. Errors: ``ReportNotPresent`` (410) before any
  report, ``ReportInProgress`` (404) while the first one is generated, ``ReportExpired`` (410) once
  the report is four hours old.

Data: users (store/iam_users.py), access keys with their last use (store/access_keys.py; uses this
process has seen and not yet written are included, as GetAccessKeyLastUsed does), enabled MFA
devices (store/iam_mfa.py). Access keys 1 and 2 are the user's keys in order of creation.

Deviations from AWS:
- ``password_last_used`` is ``no_information`` until a console sign-in has used the password.
- The root has no password and no MFA device in OpenSTS: its ``password_last_used`` is ``N/A`` and
  ``mfa_active`` ``false``.
- ``Content`` is recorded in the audit trail as ``HIDDEN_DUE_TO_SECURITY_REASONS`` (it is marked
  secret: the report says which users lack MFA and which keys are old); CloudTrail records no
  response elements for this call.
- A generation that died half-way (its process killed) blocks new ones for
  :data:`ABANDONED_AFTER`, after which the next Generate starts over.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from opensts.actions import ActionContext, action
from opensts.errors import AwsError
from opensts.fields import SECRET_FIELD, NoParameters
from opensts.iam.common import authorize_iam, caller_account
from opensts.identity import arn as arns
from opensts.store.access_keys import AccessKeyMetadata
from opensts.store.iam_users import UserRecord

# https://docs.aws.amazon.com/IAM/latest/UserGuide/credential-reports.html#id_credentials_understanding_the_report_format
COLUMNS = (
    "user", "arn", "user_creation_time",
    "password_enabled", "password_last_used", "password_last_changed", "password_next_rotation",
    "mfa_active",
    "access_key_1_active", "access_key_1_last_rotated", "access_key_1_last_used_date",
    "access_key_1_last_used_region", "access_key_1_last_used_service",
    "access_key_2_active", "access_key_2_last_rotated", "access_key_2_last_used_date",
    "access_key_2_last_used_region", "access_key_2_last_used_service",
    "cert_1_active", "cert_1_last_rotated", "cert_2_active", "cert_2_last_rotated",
)
ROOT_USER = "<root_account>"
NA = "N/A"
NOT_SUPPORTED = "not_supported"
REPORT_FORMAT = "text/csv"
REPORT_LIFETIME = timedelta(hours=4)  # a new report at most every 4 hours; older ones have expired
ABANDONED_AFTER = timedelta(minutes=5)

_DESCRIPTIONS = {
    "STARTED": "No report exists. Starting a new report generation task",
    "INPROGRESS": "Report generation in progress",
    "COMPLETE": "Report generation complete",
}


# --- Errors (botocore: CredentialReportNotPresentException, ...) -----------------------------------
class ReportNotPresent(AwsError):
    code, status = "ReportNotPresent", 410


class ReportExpired(AwsError):
    code, status = "ReportExpired", 410


class ReportInProgress(AwsError):
    code, status = "ReportInProgress", 404


# --- Results ---------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GenerateCredentialReportResult:
    state: str
    description: str


@dataclass(frozen=True, slots=True)
class GetCredentialReportResult:
    content: bytes = dataclasses.field(repr=False, metadata=SECRET_FIELD)  # base64 on the wire
    report_format: str = REPORT_FORMAT
    generated_time: datetime | None = None


# --- Actions ---------------------------------------------------------------------------------------
@action("iam", "GenerateCredentialReport", request=NoParameters, writes=True)
def generate_credential_report(ctx: ActionContext, request: NoParameters) -> GenerateCredentialReportResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "GenerateCredentialReport", "*")
    reports = ctx.runtime.store.report_jobs
    now = _utc(ctx.request_time)
    state, claimed = reports.claim_credential_report(account, now, fresh=REPORT_LIFETIME, abandoned=ABANDONED_AFTER)
    if state == "STARTED":
        try:
            content = credential_report_csv(ctx, account)
        except BaseException:
            reports.release_credential_report(account, claimed.started_at)
            raise
        reports.complete_credential_report(account, claimed.started_at, now, content)
    return GenerateCredentialReportResult(state, _DESCRIPTIONS[state])


@action("iam", "GetCredentialReport", request=NoParameters)
def get_credential_report(ctx: ActionContext, request: NoParameters) -> GetCredentialReportResult:
    account = caller_account(ctx)
    authorize_iam(ctx, "GetCredentialReport", "*")
    report = ctx.runtime.store.report_jobs.credential_report(account)
    if report is None:
        raise ReportNotPresent("Unknown: no credential report exists. To generate one, use GenerateCredentialReport.")
    if report.state != "COMPLETE" or report.content is None or report.generated_at is None:
        raise ReportInProgress("Report generation in progress.")
    if _utc(ctx.request_time) - report.generated_at >= REPORT_LIFETIME:
        raise ReportExpired("The credential report has expired. To generate a new one, use GenerateCredentialReport.")
    return GetCredentialReportResult(report.content, REPORT_FORMAT, report.generated_at)


# --- The CSV ---------------------------------------------------------------------------------------
def credential_report_csv(ctx: ActionContext, account: str) -> bytes:
    """The report as AWS writes it: a header line, the root, then every user by name; ``\\n`` line ends."""
    store = ctx.runtime.store
    facts = store.report_jobs.credential_facts(account)
    account_record = store.accounts.get(account)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    root_created = account_record.created_at if account_record else None
    policy = store.account_settings.password_policy(account)
    max_password_age = policy.max_password_age if policy else None
    writer.writerow([
        ROOT_USER, arns.root_arn(account), _time(root_created),
        NOT_SUPPORTED, NA, NOT_SUPPORTED, NOT_SUPPORTED,  # the root has no password in OpenSTS
        "false",  # nor an MFA device
        *_key_columns(store, facts.keys.get(None, [])),
        *_certificate_columns(store, account, None),
    ])
    for user in facts.users:
        writer.writerow([
            user.name, arns.user_arn(account, user.name, user.path), _time(user.created_at),
            *_password_columns(store, user, max_password_age),
            _bool(user.user_id in facts.mfa_users),
            *_key_columns(store, facts.keys.get(user.user_id, [])),
            *_certificate_columns(store, account, user),
        ])
    return out.getvalue().encode("utf-8")


def _password_columns(store: Any, user: UserRecord, max_password_age: int | None) -> tuple[str, str, str, str]:
    """password_enabled, password_last_used, password_last_changed, password_next_rotation: from the
    user's login profile, and the rotation date the account password policy's MaxPasswordAge gives
    (``N/A`` without one), as AWS."""
    profile = store.passwords.get(user.user_id)
    if profile is None:
        return "false", NA, NA, NA
    last_used = _time(profile.password_last_used) if profile.password_last_used else "no_information"
    rotation = _time(profile.password_changed_at + timedelta(days=max_password_age)) if max_password_age else NA
    return "true", last_used, _time(profile.password_changed_at), rotation


def _certificate_columns(store: Any, account: str, user: UserRecord | None) -> list[str]:
    """cert_1_active, cert_1_last_rotated, cert_2_active, cert_2_last_rotated (``user`` None: the
    root): the first two signing certificates by upload date, ``true`` when Active, and the upload date."""
    certificates = sorted(
        store.user_credentials.certificates(account, user.user_id if user else None), key=lambda c: c.uploaded_at
    )
    out: list[str] = []
    for n in range(2):
        if n < len(certificates):
            out += [_bool(certificates[n].status == "Active"), _time(certificates[n].uploaded_at)]
        else:
            out += ["false", NA]
    return out


def _key_columns(store: Any, keys: list[AccessKeyMetadata]) -> list[str]:
    """access_key_N_{active,last_rotated,last_used_date,last_used_region,last_used_service} for N = 1, 2."""
    out: list[str] = []
    for n in range(2):
        if n >= len(keys):
            out += ["false", NA, NA, NA, NA]
            continue
        key = keys[n]
        when, service, region = key.last_used_at, key.last_used_service, key.last_used_region
        pending = store.access_key_use.pending(key.access_key_id)  # seen by this process, not written yet
        if pending is not None and (when is None or pending[0] > when):
            when, service, region = pending
        used = when is not None
        out += [
            _bool(key.status == "Active"), _time(key.created_at), _time(when),
            (region or NA) if used else NA, (service or NA) if used else NA,
        ]
    return out


def _time(value: datetime | None) -> str:
    """ISO 8601 to the second with the UTC offset, as AWS's report: ``2026-12-03T17:04:41+00:00``."""
    return _utc(value).replace(microsecond=0).isoformat() if value is not None else NA


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _bool(value: bool) -> str:
    return "true" if value else "false"
