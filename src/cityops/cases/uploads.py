"""Storing uploaded photos: checked, content-addressed on disk, metadata in the database."""

from __future__ import annotations

from cityops.cases.models import Upload
from cityops.cases.schemas import UploadOut
from cityops.core.auth import Actor
from cityops.core.errors import FieldError, PayloadTooLarge
from cityops.core.files import inspect_image
from cityops.core.i18n import text
from cityops.core.runtime import Runtime
from cityops.org.roles import Perm


def store_upload(rt: Runtime, *, actor: Actor, data: bytes) -> UploadOut:
    """Check and store one photo; it stays unattached until a report or result uses it."""
    if not (
        actor.can(Perm.cases_report) or actor.can(Perm.cases_handle) or actor.can(Perm.cases_verify)
    ):
        actor.require(Perm.cases_report)
    _check_size(data, rt.settings.max_photo_bytes)
    meta = inspect_image(data, max_bytes=rt.settings.max_photo_bytes)
    # Bytes first (idempotent by hash), then the row: a crash leaves at most an orphan file.
    rt.files.put(data, meta.sha256)
    with rt.db.transaction() as tx:
        upload = Upload(
            sha256=meta.sha256,
            content_type=meta.content_type,
            size=meta.size,
            width=meta.width,
            height=meta.height,
            uploaded_by=actor.user_id,
            created_at=rt.clock.now(),
        )
        tx.session.add(upload)
        tx.session.flush()
        return UploadOut.model_validate(upload)


def _check_size(data: bytes, limit: int) -> None:
    """Name the offending form field, like every other input error does."""
    if len(data) > limit:
        message = text("larger than the limit of {limit} bytes", limit=limit)
        error = PayloadTooLarge(text("file: larger than the limit of {limit} bytes", limit=limit))
        error.fields.append(FieldError("file", message, "too_large"))
        raise error
