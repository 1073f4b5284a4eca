"""One validated settings object, built by the composition root (never at import time).

Every option is read from the environment with the ``CITYOPS_`` prefix, or from a TOML file
named by ``CITYOPS_CONFIG``. ``docs/configuration.md`` lists every option; keep the two in step.
"""

from __future__ import annotations

import os
import tomllib
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_SECRET = "change-me-insecure-development-secret"  # noqa: S105 - the value refused in production


class Profile(StrEnum):
    development = "development"
    demo = "demo"
    test = "test"
    production = "production"


class ConfigError(Exception):
    """Raised with a readable message naming every bad setting."""


class _TomlSource(PydanticBaseSettingsSource):
    """Reads the TOML file named by CITYOPS_CONFIG; environment variables win over it."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        path = os.environ.get("CITYOPS_CONFIG")
        self._data: dict[str, Any] = {}
        if path:
            with open(path, "rb") as handle:
                self._data = tomllib.load(handle).get("cityops", {})

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return self._data.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return {key: value for key, value in self._data.items() if value is not None}


class Settings(BaseSettings):
    """cityops configuration. See docs/configuration.md for every option."""

    model_config = SettingsConfigDict(env_prefix="CITYOPS_", extra="ignore")

    profile: Profile = Profile.development
    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1, le=64)
    # Requests each web process runs at once (unset: 6 on PostgreSQL, 40 on SQLite), and its
    # threads for exports, imports and training (src/cityops/web/lanes.py).
    web_threads: int | None = Field(default=None, ge=1, le=256)
    web_slow_threads: int = Field(default=2, ge=1, le=64)
    secret_key: str = DEFAULT_SECRET
    token_ttl_minutes: int = Field(default=12 * 60, ge=1, le=60 * 24 * 30)
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh-CN"
    working_periods: str = "09:00-12:00,13:30-18:00"
    working_weekdays: str = "1-5"
    sla_warning_ratio: float = Field(default=0.8, gt=0, lt=1)
    sla_scan_seconds: float = Field(default=30.0, gt=0)
    # Duplicate reports (docs/duplicates.md): propose at or above, merge automatically at or above.
    duplicate_propose_score: float = Field(default=0.6, gt=0, le=1)
    duplicate_merge_score: float = Field(default=0.85, gt=0, le=1)
    duplicate_auto_merge: bool = True
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_photos_per_case: int = Field(default=9, ge=1, le=50)
    run_scheduler: bool = True
    reference_cache_seconds: float = Field(default=30.0, ge=0, le=3600)
    token_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    device_offline_intervals: float = Field(default=3.0, ge=1, le=1000)
    device_scan_seconds: float = Field(default=30.0, gt=0)
    telemetry_max_future_seconds: float = Field(default=300.0, ge=0, le=86_400)
    telemetry_max_age_hours: float = Field(default=168.0, gt=0, le=24 * 3660)
    # Triage of new reports (智能派单): see docs/triage.md.
    auto_dispatch: bool = False
    auto_dispatch_threshold: float = Field(default=0.85, ge=0, le=1)
    triage_sweep_seconds: float = Field(default=60.0, gt=0)
    # Triage and labelled examples after a commit: queued to a thread of each process that
    # takes them in batches (true), or done in the request that committed (false).
    brain_background: bool = True
    # Model lifecycle: retrain every N hours (0 = off); the API trains at most this many
    # messages in the request, more in the background; a retraining reads the newest
    # brain_retrain_max cases (docs/brain.md, Model lifecycle).
    brain_retrain_hours: float = Field(default=24.0, ge=0)
    brain_retrain_sync_max: int = Field(default=3000, ge=0)
    brain_retrain_max: int = Field(default=20_000, ge=10, le=1_000_000)
    demo_password: str | None = None
    demo_api_key: str | None = None
    log_level: str = "INFO"
    # MQTT (perception layer): see docs/mqtt.md.
    mqtt_url: str = ""
    mqtt_admin_username: str = "cityops-admin"
    mqtt_admin_password: str | None = None
    mqtt_ingest_username: str = "cityops-ingest"
    mqtt_ingest_password: str | None = None
    mqtt_topic_prefix: str = "cityops"
    mqtt_share_group: str = "cityops-ingest"
    mqtt_client_id: str = Field(default="cityops-ingest-1", min_length=1, max_length=64)
    mqtt_session_expiry_seconds: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    mqtt_receive_maximum: int = Field(default=1000, ge=1, le=65535)
    mqtt_batch_size: int = Field(default=500, ge=1, le=10000)
    mqtt_batch_seconds: float = Field(default=0.05, gt=0, le=10)
    # Telemetry storage (docs/devices.md, "Storage, rollups and archive"): raw readings stay in
    # the database for the hot window, then move to Parquet under data_dir/archive/telemetry;
    # 1-minute rollups are kept this many days, 1-hour rollups for good.
    telemetry_hot_days: int = Field(default=7, ge=1, le=3660)
    telemetry_rollup_1m_days: int = Field(default=90, ge=1, le=3660)
    telemetry_rollup_seconds: float = Field(default=60.0, gt=0)
    telemetry_archive_seconds: float = Field(default=86_400.0, gt=0)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("default_locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        if value not in ("zh-CN", "en"):
            raise ValueError("must be 'zh-CN' or 'en'")
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgres")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _broker_url(cls, value: str) -> str:
        from cityops.core.mqtt.address import BrokerAddress

        if value:
            BrokerAddress.parse(value)
        return value

    @field_validator("mqtt_topic_prefix")
    @classmethod
    def _topic_prefix(cls, value: str) -> str:
        from cityops.core.mqtt.topics import check_prefix

        return check_prefix(value)

    @field_validator("mqtt_share_group")
    @classmethod
    def _share_group(cls, value: str) -> str:
        from cityops.core.mqtt.topics import check_share_group

        return check_share_group(value)

    @model_validator(mode="after")
    def _safe_for_production(self) -> Settings:
        if self.profile is Profile.production:
            if self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32:
                raise ValueError(
                    "CITYOPS_SECRET_KEY must be a random value of 32+ characters in production"
                )
            if self.demo_password or self.demo_api_key:
                raise ValueError("demo credentials are not allowed in production")
            if self.mqtt_url and not (self.mqtt_admin_password and self.mqtt_ingest_password):
                raise ValueError(
                    "CITYOPS_MQTT_ADMIN_PASSWORD and CITYOPS_MQTT_INGEST_PASSWORD are required"
                    " with CITYOPS_MQTT_URL in production"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'cityops.sqlite3').resolve()}"

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"


def load_settings(**overrides: Any) -> Settings:
    """Build and validate the settings; raise ConfigError with one line per bad option."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            env = f"CITYOPS_{name.upper()}" if error["loc"] else name
            lines.append(f"{env}: {error['msg']}")
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(lines)) from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read CITYOPS_CONFIG: {exc}") from None
