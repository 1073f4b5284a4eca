"""Roles and the permissions each one holds (least privilege, 最小权限).

Permissions say *what* a role may do; the services add *where* (jurisdiction) on top.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    operator = "operator"
    dispatcher = "dispatcher"
    handler = "handler"
    gridworker = "gridworker"
    citizen = "citizen"
    leader = "leader"
    dataofficer = "dataofficer"
    # A machine account for device gateways and platforms that push telemetry (API keys).
    integration = "integration"


class Perm(StrEnum):
    cases_read = "cases.read"
    cases_report = "cases.report"
    cases_hotline = "cases.hotline"
    cases_intake_internal = "cases.intake_internal"
    cases_register = "cases.register"
    cases_reject = "cases.reject"
    cases_dispatch = "cases.dispatch"
    cases_reassign = "cases.reassign"
    cases_recall = "cases.recall"
    cases_assign = "cases.assign"
    cases_accept = "cases.accept"
    cases_return = "cases.return"
    cases_handle = "cases.handle"
    cases_verify = "cases.verify"
    cases_close = "cases.close"
    cases_reopen = "cases.reopen"
    cases_evaluate = "cases.evaluate"
    cases_urge = "cases.urge"
    cases_escalate = "cases.escalate"
    cases_merge = "cases.merge"
    cases_cancel = "cases.cancel"
    categories_manage = "categories.manage"
    org_read = "org.read"
    org_manage = "org.manage"
    users_manage = "users.manage"
    audit_read = "audit.read"
    kpi_read = "kpi.read"
    alarms_read = "alarms.read"
    alarms_ack = "alarms.ack"
    alarms_manage = "alarms.manage"
    devices_read = "devices.read"
    devices_manage = "devices.manage"
    telemetry_ingest = "telemetry.ingest"
    brain_suggest = "brain.suggest"
    brain_examples_read = "brain.examples.read"
    brain_models_read = "brain.models.read"
    brain_models_manage = "brain.models.manage"


_OPERATOR = {
    Perm.cases_read,
    Perm.cases_hotline,
    Perm.cases_evaluate,
    Perm.cases_report,
    Perm.cases_register,
    Perm.cases_reject,
    Perm.cases_dispatch,
    Perm.cases_reassign,
    Perm.cases_recall,
    Perm.cases_assign,
    Perm.cases_close,
    Perm.cases_reopen,
    Perm.cases_urge,
    Perm.cases_escalate,
    Perm.cases_merge,
    Perm.cases_cancel,
    Perm.org_read,
    Perm.kpi_read,
    Perm.alarms_read,
    Perm.alarms_ack,
    Perm.devices_read,
    Perm.brain_suggest,
}

ROLE_PERMISSIONS: dict[Role, frozenset[str]] = {
    Role.admin: frozenset({"*"}),
    Role.operator: frozenset(_OPERATOR),
    Role.dispatcher: frozenset(
        {
            Perm.cases_read,
            Perm.cases_register,
            Perm.cases_reject,
            Perm.cases_dispatch,
            Perm.cases_reassign,
            Perm.cases_recall,
            Perm.cases_assign,
            Perm.cases_urge,
            Perm.cases_merge,
            Perm.org_read,
            Perm.kpi_read,
            Perm.alarms_read,
            Perm.devices_read,
            Perm.brain_suggest,
        }
    ),
    Role.handler: frozenset(
        {
            Perm.cases_read,
            Perm.cases_accept,
            Perm.cases_return,
            Perm.cases_handle,
            Perm.cases_assign,
            Perm.org_read,
            Perm.alarms_read,
            Perm.alarms_ack,
            Perm.devices_read,
        }
    ),
    Role.gridworker: frozenset(
        {Perm.cases_read, Perm.cases_report, Perm.cases_verify, Perm.org_read}
    ),
    Role.citizen: frozenset(
        {
            Perm.cases_read,
            Perm.cases_report,
            Perm.cases_verify,
            Perm.cases_evaluate,
            Perm.cases_cancel,
        }
    ),
    Role.leader: frozenset(
        {Perm.cases_read, Perm.kpi_read, Perm.org_read, Perm.alarms_read, Perm.devices_read}
    ),
    Role.dataofficer: frozenset(
        {
            Perm.cases_read,
            Perm.kpi_read,
            Perm.org_read,
            Perm.audit_read,
            Perm.alarms_read,
            Perm.devices_read,
            Perm.brain_examples_read,
            Perm.brain_models_read,
            Perm.brain_models_manage,
        }
    ),
    Role.integration: frozenset({Perm.telemetry_ingest}),
}

# Roles whose reading is limited to what they reported themselves.
OWN_REPORTS_ONLY = frozenset({Role.citizen})
# Roles that need a department.
DEPARTMENT_ROLES = frozenset({Role.handler})
# Roles that need an area (their grid, street or district).
AREA_ROLES = frozenset({Role.gridworker})


def permissions_for(role: str) -> frozenset[str]:
    return ROLE_PERMISSIONS[Role(role)]
