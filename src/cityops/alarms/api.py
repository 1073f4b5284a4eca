"""Routes of the alarms module: the alarm list and page, acknowledge and clear, rule
administration with per-device overrides."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status
from pydantic import AwareDatetime

from cityops.alarms import service
from cityops.alarms.schemas import (
    DEVICE_ID_PATTERN,
    AckBody,
    AlarmDetail,
    AlarmFilter,
    AlarmOut,
    ClearBody,
    OverrideIn,
    OverrideOut,
    RuleIn,
    RuleOut,
    RuleUpdate,
    SeverityName,
    StateName,
)
from cityops.core.pagination import Page
from cityops.web.deps import CurrentActor, Paging, RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["alarms"])
DeviceId = Annotated[str, Path(max_length=64, pattern=DEVICE_ID_PATTERN)]


@router.get("/alarms", response_model=Page[AlarmOut])
def list_alarms(
    rt: RuntimeDep,
    actor: CurrentActor,
    paging: Paging,
    state: Annotated[list[StateName] | None, Query()] = None,
    severity: Annotated[list[SeverityName] | None, Query()] = None,
    device_id: Annotated[str | None, Query(max_length=64)] = None,
    device_type: Annotated[str | None, Query(max_length=64)] = None,
    department: Annotated[str | None, Query(max_length=64)] = None,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> Page[AlarmOut]:
    """Alarms you may see; filters combine (``since``/``until`` on when they were raised);
    ``sort`` takes keys like ``-severity,-raised_at``."""
    filters = AlarmFilter(
        state=state or [],
        severity=severity or [],
        device_id=device_id,
        device_type=device_type,
        department=department,
        rule=rule,
        since=since,
        until=until,
    )
    return service.list_alarms(rt, actor=actor, filters=filters, params=paging)


@router.get("/alarms/{alarm_id}", response_model=AlarmDetail)
def get_alarm(rt: RuntimeDep, actor: CurrentActor, alarm_id: uuid.UUID) -> AlarmDetail:
    """One alarm with its readings (a bounded sample) and its history."""
    return service.get_alarm(rt, actor=actor, alarm_id=alarm_id)


@router.post("/alarms/{alarm_id}/acknowledge", response_model=AlarmDetail)
def acknowledge(
    rt: RuntimeDep, actor: CurrentActor, alarm_id: uuid.UUID, body: AckBody
) -> AlarmDetail:
    return service.acknowledge_alarm(rt, actor=actor, alarm_id=alarm_id, note=body.note)


@router.post("/alarms/{alarm_id}/clear", response_model=AlarmDetail)
def clear(rt: RuntimeDep, actor: CurrentActor, alarm_id: uuid.UUID, body: ClearBody) -> AlarmDetail:
    return service.clear_alarm(rt, actor=actor, alarm_id=alarm_id, note=body.note)


@router.get("/alarm-rules", response_model=list[RuleOut])
def list_rules(
    rt: RuntimeDep,
    actor: CurrentActor,
    device_type: Annotated[str | None, Query(max_length=64)] = None,
) -> list[RuleOut]:
    return service.list_rules(rt, actor=actor, device_type=device_type)


@router.post("/alarm-rules", response_model=RuleOut, status_code=status.HTTP_201_CREATED)
def create_rule(rt: RuntimeDep, actor: CurrentActor, body: RuleIn) -> RuleOut:
    return service.create_rule(rt, actor=actor, data=body)


@router.get("/alarm-rules/{rule_id}", response_model=RuleOut)
def get_rule(rt: RuntimeDep, actor: CurrentActor, rule_id: uuid.UUID) -> RuleOut:
    return service.get_rule(rt, actor=actor, rule_id=rule_id)


@router.patch("/alarm-rules/{rule_id}", response_model=RuleOut)
def update_rule(
    rt: RuntimeDep, actor: CurrentActor, rule_id: uuid.UUID, body: RuleUpdate
) -> RuleOut:
    """Change the fields sent; ``case_severity``/``case_category`` null stop opening cases."""
    return service.update_rule(
        rt, actor=actor, rule_id=rule_id, data=body, fields=set(body.model_fields_set)
    )


@router.delete("/alarm-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rt: RuntimeDep, actor: CurrentActor, rule_id: uuid.UUID) -> Response:
    service.delete_rule(rt, actor=actor, rule_id=rule_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/alarm-rules/{rule_id}/overrides", response_model=list[OverrideOut])
def list_overrides(rt: RuntimeDep, actor: CurrentActor, rule_id: uuid.UUID) -> list[OverrideOut]:
    return service.list_overrides(rt, actor=actor, rule_id=rule_id)


@router.put("/alarm-rules/{rule_id}/overrides/{device_id}", response_model=OverrideOut)
def set_override(
    rt: RuntimeDep, actor: CurrentActor, rule_id: uuid.UUID, device_id: DeviceId, body: OverrideIn
) -> OverrideOut:
    """Set one device's override of the rule (fields left null keep the rule's values)."""
    return service.set_override(rt, actor=actor, rule_id=rule_id, device_id=device_id, data=body)


@router.delete(
    "/alarm-rules/{rule_id}/overrides/{device_id}", status_code=status.HTTP_204_NO_CONTENT
)
def delete_override(
    rt: RuntimeDep, actor: CurrentActor, rule_id: uuid.UUID, device_id: DeviceId
) -> Response:
    service.delete_override(rt, actor=actor, rule_id=rule_id, device_id=device_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
