"""Domain errors. The web layer maps each class to one HTTP status and a stable JSON shape."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cityops.core.i18n import text


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field; ``field`` is a dotted path such as ``location.lon``."""

    field: str
    message: str
    code: str = "invalid"


@dataclass
class DomainError(Exception):
    """Base class: a stable machine ``code``, a human ``message`` and optional field errors."""

    message: str
    code: str = "error"
    fields: list[FieldError] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    def __init__(self, what: str, key: object) -> None:
        super().__init__(text("{what} {key} not found", what=what, key=key), code="not_found")


class NotAuthenticated(DomainError):
    def __init__(self, message: str = "authentication required") -> None:
        super().__init__(message, code="not_authenticated")


class PermissionDenied(DomainError):
    def __init__(self, message: str, code: str = "permission_denied") -> None:
        super().__init__(message, code=code)


class ValidationFailed(DomainError):
    def __init__(self, *errors: FieldError, message: str | None = None) -> None:
        summary = message or fields_summary(list(errors))
        super().__init__(summary or "invalid input", code="validation_error", fields=list(errors))
        # Said again from its fields in the caller's language when it was made from them.
        self.summarises_fields = message is None and bool(errors)


class Conflict(DomainError):
    def __init__(self, message: str, code: str = "conflict", **details: Any) -> None:
        super().__init__(message, code=code, details=details)


class InvalidTransition(Conflict):
    def __init__(self, action: str, state: str) -> None:
        super().__init__(
            text("cannot {action!t} a case in state {state!r}", action=action, state=state),
            code="invalid_transition",
            action=action,
            state=state,
        )


class PayloadTooLarge(DomainError):
    def __init__(self, message: str) -> None:
        super().__init__(message, code="payload_too_large")


def invalid(field_name: str, message: str, code: str = "invalid") -> ValidationFailed:
    """Shorthand for a one-field validation error."""
    return ValidationFailed(FieldError(field_name, message, code))


def duplicate(field_name: str, message: str) -> Conflict:
    """A value that must be unique is taken: a conflict that names the field, so a form can
    show it beside the input."""
    error = Conflict(message, code="duplicate")
    error.fields.append(FieldError(field_name, message, "duplicate"))
    return error


def fields_summary(errors: list[FieldError]) -> str:
    """The one-line message of a list of field errors: ``field: message; …``."""
    return "; ".join(f"{e.field}: {e.message}" for e in errors)
