"""The demo city: 长沙市 with its organisation, demo accounts, an Open311 key and a month of
case history, built once into an empty database.

Nothing secret is stored in plain text: a password or API key generated here is printed once.
On a later start the city is kept; without ``CITYOPS_DEMO_PASSWORD`` the demo accounts get a
new generated password (the old one cannot be shown again), and without
``CITYOPS_DEMO_API_KEY`` the Open311 key is reissued.
"""

from __future__ import annotations

import dataclasses
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from cityops.alarms import service as alarms
from cityops.brain import versions
from cityops.brain.views import ModelOut
from cityops.cases import service as cases
from cityops.core.auth import SYSTEM
from cityops.core.clock import FrozenClock
from cityops.core.config import Settings
from cityops.core.errors import Conflict, NotAuthenticated, invalid
from cityops.core.i18n import text
from cityops.core.pagination import PageParams
from cityops.core.runtime import Runtime
from cityops.demo.bulk import bulk_cases
from cityops.demo.geography import changsha
from cityops.demo.history import STATES, HistoryStats, generate_history
from cityops.demo.places import CityMap
from cityops.demo.rules import install_rules
from cityops.demo.seed import seed_organisation
from cityops.demo.sensors import MAX_DEVICES, SensorStats, install_sensors, wake_sensors
from cityops.demo.staff import (
    INTEGRATION_USER,
    DemoAccount,
    create_extra_staff,
    existing_accounts,
    load_cast,
)
from cityops.demo.timing import HOLIDAYS, WORKDAYS, holiday_name
from cityops.devices import service as devices
from cityops.devices.schemas import DeviceFilter
from cityops.org import service as org
from cityops.org.schemas import ApiKeyIn, UserUpdate

SETUP_LEAD = timedelta(days=1)
"""The organisation is created this long before the first case of the history."""

_NOTES = {
    "admin": "系统管理员 administrator",
    "operator": "城运中心值班员（全市） operations centre",
    "dispatcher": "派遣员 dispatcher",
    "leader": "领导 leader (dashboards, KPIs)",
    "dataofficer": "数据专员 data officer",
    "citizen": "市民 citizen",
    "gridworker": "网格员 grid worker",
    "integration": "设备数据接入 device telemetry integration (API keys)",
    INTEGRATION_USER: "Open311 集成账号 integration user",
}
_GROUPS = {
    "operator-": "区级值班员 district operators",
    "gridworker-": "网格员 grid workers (one grid each)",
    "supervisor-": "网格巡查员 district grid supervisors",
    "handler-": "部门处置人员 department handlers",
}
_SOURCES = {
    "settings": "from CITYOPS_DEMO_{what}",
    "generated": "generated now and stored nowhere: note it (set CITYOPS_DEMO_{what} to fix it)",
    "reset": "newly generated for this start; the previous one no longer works",
}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class DemoCredentials:
    """How to get into the demo city."""

    password: str
    api_key: str
    accounts: tuple[DemoAccount, ...]
    password_source: str
    api_key_source: str
    stats: HistoryStats | None = None
    sensors: SensorStats | None = None
    model: ModelOut | None = None

    def describe(self, settings: Settings) -> str:
        """A readable multi-line text: where the demo runs and how to log in."""
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
        url = f"http://{host}:{settings.port}"
        password_note = _SOURCES[self.password_source].format(what="PASSWORD")
        key_note = _SOURCES[self.api_key_source].format(what="API_KEY")
        lines = [
            "cityops 演示城市 demo city: 长沙市 Changsha",
            f"  Web:       {url}",
            f"  API docs:  {url}/docs",
            f"  Data:      {settings.data_dir}",
            f"  Password:  {self.password}",
            f"             (all demo accounts; {password_note})",
            "  Accounts:",
            *self._account_lines(),
            f"  Open311:   {url}/open311/v2  (GeoReport v2, api_key={self.api_key})",
            f"             ({key_note})",
        ]
        if self.stats is not None:
            lines += _stats_lines(self.stats)
        if self.sensors is not None:
            s = self.sensors
            lines.append(
                f"  Sensors:   {s.devices} devices of 8 types, {s.reporting} reporting, "
                f"{s.silent} silent since yesterday"
            )
        if self.model is not None:
            m = self.model
            lines.append(
                f"  Dispatch:  model v{m.version} trained on {m.training.get('labelled', 0)} cases,"
                f" held-out accuracy {m.accuracy or 0:.3f}, macro-F1 {m.macro_f1 or 0:.3f}"
            )
        lines.append(
            "  These accounts and keys exist only in this demo city; never use them in production."
        )
        return "\n".join(lines)

    def _account_lines(self) -> list[str]:
        lines: list[str] = []
        grouped: dict[str, list[DemoAccount]] = {}
        for account in self.accounts:
            prefix = next((p for p in _GROUPS if account.username.startswith(p)), None)
            if prefix is None:
                note = _NOTES.get(account.username, _NOTES.get(account.role, account.role))
                lines.append(f"    {account.username:<24} {account.role:<12} {note}")
            else:
                grouped.setdefault(prefix, []).append(account)
        for prefix, members in grouped.items():
            name = f"{prefix}<code> ×{len(members)}"
            example = f"{_GROUPS[prefix]}, e.g. {members[0].username}"
            lines.append(f"    {name:<24} {members[0].role:<12} {example}")
        return lines


def _stats_lines(stats: HistoryStats) -> list[str]:
    states = ", ".join(f"{state} {stats.by_state.get(state, 0)}" for state in STATES)
    return [
        f"  History:   {stats.cases} cases, {stats.photos} photos; overdue: "
        f"{stats.overdue_open} open now, {stats.overdue_ever} in all",
        f"             {states}",
    ]


def build_demo_city(
    rt: Runtime,
    *,
    days: int = 30,
    seed: int = 2026,
    cases: int | None = None,
    devices: int | None = None,
    progress: Progress | None = None,
) -> DemoCredentials:
    """Build the demo city into an empty database, or return the credentials of the one there.

    The history covers ``days`` days up to the runtime clock's current time and is the same
    for the same ``seed`` and end time. With ``cases``, that many cases are written in bulk
    over those days instead of replaying the history (:mod:`cityops.demo.bulk`: for load
    tests; no photos, no audit records). With ``devices``, that many sensors are installed
    in the usual mix of types instead of the few hundred of :data:`sensors.FLEET`.
    """
    say = progress or (lambda _message: None)
    if _demo_exists(rt):
        return _existing_city(rt, say)
    settings = rt.settings
    if days < 0:
        raise invalid("days", "must be zero or more", "out_of_range")
    if cases is not None and (cases < 0 or (cases and days < 1)):
        raise invalid("cases", "must be zero or more, over at least one day", "out_of_range")
    if devices is not None and not 0 <= devices <= MAX_DEVICES:
        raise invalid(
            "devices", text("must be between 0 and {limit}", limit=MAX_DEVICES), "out_of_range"
        )
    if settings.demo_password is not None and len(settings.demo_password) < 8:
        raise invalid("CITYOPS_DEMO_PASSWORD", "use at least 8 characters", "too_short")
    password = settings.demo_password or secrets.token_urlsafe(9)
    end = rt.clock.now()
    start = end - timedelta(days=days)
    setup = dataclasses.replace(rt, clock=FrozenClock(start - SETUP_LEAD))
    rng = random.Random(seed)
    city = changsha()
    cmap = CityMap(city)
    say("Creating 长沙市: areas, categories, departments and accounts …")
    organisation = seed_organisation(setup, city, password=password)
    _import_holidays(setup)
    extra = create_extra_staff(setup, organisation, cmap, password=password, rng=rng)
    key = org.create_api_key(
        setup,
        actor=SYSTEM,
        data=ApiKeyIn(name="open311", username=INTEGRATION_USER),
        key=settings.demo_api_key,
    ).key
    if cases is not None:
        say(f"Writing {cases} cases over {days} days in bulk …")
        stats = bulk_cases(rt, count=cases, days=max(days, 1), seed=seed, progress=progress)
    else:
        say(f"Replaying {days} days of cases …")
        cast = load_cast(setup, key)
        stats = generate_history(
            setup, cast=cast, cmap=cmap, start=start, end=end, seed=seed, progress=progress
        )
    rt.settle()  # the history's triage and labelled examples
    model = _train_first_model(rt, say)
    say("Installing sensors …")
    sensors = install_sensors(rt, cmap, seed=seed, now=end, devices_total=devices)
    install_rules(rt)
    seeded = [DemoAccount(name, role) for name, role in organisation.users.items()]
    return DemoCredentials(
        password=password,
        api_key=key,
        accounts=tuple(seeded + extra),
        password_source="settings" if settings.demo_password else "generated",
        api_key_source="settings" if settings.demo_api_key else "generated",
        stats=stats,
        sensors=sensors,
        model=model,
    )


def _train_first_model(rt: Runtime, say: Progress) -> ModelOut | None:
    """The city's first dispatch model, trained on the history's categorised cases and
    activated, so that new reports are triaged by it (too short a history keeps keywords)."""
    say("Training the dispatch model on the history …")
    try:
        return versions.retrain_model(
            rt, actor=SYSTEM, activate="always", note="trained on the demo history"
        )
    except versions.TooFewExamples as error:
        say(f"No dispatch model: {error.message}")
        return None


def _demo_exists(rt: Runtime) -> bool:
    with rt.db.read() as session:
        if org.get_user_by_username(session, "admin") is None:
            return False
        if org.get_user_by_username(session, INTEGRATION_USER) is None:
            raise Conflict(
                "the database already holds data that is not a complete demo city; "
                "start the demo with an empty data directory (CITYOPS_DATA_DIR)",
                code="not_demo",
            )
    return True


def _import_holidays(rt: Runtime) -> None:
    """The national holidays and make-up working days, so time limits skip the holidays."""
    for day in sorted(HOLIDAYS | WORKDAYS):
        cases.set_calendar_day(
            rt, actor=SYSTEM, day=day, working=day in WORKDAYS, name=holiday_name(day)
        )


def _existing_city(rt: Runtime, say: Progress) -> DemoCredentials:
    _sensors_ready(rt, say)
    users = existing_accounts(rt)
    password = rt.settings.demo_password
    source = "settings"
    if not password:
        password, source = secrets.token_urlsafe(9), "reset"
        say(f"The demo city exists; giving its {len(users)} accounts a new password …")
        for user in users:
            org.update_user(rt, actor=SYSTEM, user_id=user.id, data=UserUpdate(password=password))
    key, key_source = _ensure_api_key(rt)
    return DemoCredentials(
        password=password,
        api_key=key,
        accounts=tuple(DemoAccount(u.username, u.role) for u in users),
        password_source=source,
        api_key_source=key_source,
    )


def _sensors_ready(rt: Runtime, say: Progress, seed: int = 2026) -> None:
    """Sensors for the simulator to drive, which drives the devices online: a city built
    before the perception layer gets the demo fleet and its rules, a city whose sensors have
    all fallen silent since it last ran (a day or more) hears from them again."""
    one = PageParams(page_size=1)

    def count(filters: DeviceFilter) -> int:
        return devices.list_devices(rt, actor=SYSTEM, filters=filters, params=one).total

    if not count(DeviceFilter()):
        say("The demo city has no sensors yet (it predates them): installing the demo fleet …")
        install_sensors(rt, CityMap(changsha()), seed=seed, now=rt.clock.now())
        if not alarms.list_rules(rt, actor=SYSTEM):
            install_rules(rt)
    elif not count(DeviceFilter(status="active", online=True)):
        say("The demo's sensors have been silent since it last ran: they report again …")
        wake_sensors(rt, seed=seed, now=rt.clock.now())


def _ensure_api_key(rt: Runtime) -> tuple[str, str]:
    """The configured key if it works; otherwise revoke the old keys and issue a new one."""
    wanted = rt.settings.demo_api_key
    if wanted:
        try:
            org.actor_for_api_key(rt, wanted)
        except NotAuthenticated:
            pass
        else:
            return wanted, "settings"
    with rt.db.read() as session:
        owner = org.get_user_by_username(session, INTEGRATION_USER)
    assert owner is not None  # _demo_exists checked it
    for old in org.list_api_keys(rt, actor=SYSTEM):
        if old.user_id == owner.id and old.revoked_at is None:
            org.revoke_api_key(rt, actor=SYSTEM, key_id=old.id)
    name = f"open311-{rt.clock.now():%Y%m%d%H%M%S}"
    created = org.create_api_key(
        rt, actor=SYSTEM, data=ApiKeyIn(name=name, username=INTEGRATION_USER), key=wanted
    )
    return created.key, "settings" if wanted else "reset"
