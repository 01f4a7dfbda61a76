"""Domain errors. Each maps to one TMF error code; the web layer renders them."""


class DomainError(Exception):
    code = "ERR_DOMAIN"
    reason = "Request cannot be processed"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequest(DomainError):
    """Something the client sent breaks a rule (400)."""

    code = "ERR_VALIDATION"
    reason = "Invalid request"


class NotPatchable(InvalidRequest):
    code = "ERR_NOT_PATCHABLE"
    reason = "Attribute cannot be changed"


class IllegalTransition(InvalidRequest):
    code = "ERR_ILLEGAL_TRANSITION"
    reason = "State transition not allowed"


class Unprocessable(DomainError):
    """Well-formed, but the resources it depends on make it impossible (422)."""

    code = "ERR_INTEGRITY"
    reason = "Referenced resources do not allow this"


class Forbidden(DomainError):
    """The caller may see the resource but not change it (403): a partner and a platform
    entry of the shared catalog."""

    code = "ERR_FORBIDDEN"
    reason = "Not allowed"


class NotFound(DomainError):
    code = "ERR_NOT_FOUND"
    reason = "Resource not found"


class Conflict(DomainError):
    """The request clashes with the current state of the resource (409)."""

    code = "ERR_CONFLICT"
    reason = "Conflict with the current state"


class ConcurrentUpdate(Conflict):
    code = "ERR_CONCURRENT_UPDATE"
    reason = "Resource was changed by another request"


class InUse(Conflict):
    code = "ERR_IN_USE"
    reason = "Resource is referenced by other resources"
