"""Version-neutral OCPP-J error kinds and their per-version CALLERROR code strings.

Code above the framing layer (routers, handlers, schema validation) speaks in
:class:`ErrorKind`; only when a CALLERROR is written does the kind become the
code string of the connection's OCPP version, via :func:`error_code_for` or
``OcppConnection.error_code``.
"""

from __future__ import annotations

from enum import StrEnum

from csms.ocpp.versions import OcppVersion

__all__ = ["ErrorKind", "error_code_for"]


class ErrorKind(StrEnum):
    """A CALLERROR reason that exists (possibly under another name) in every OCPP version.

    The values are deliberately *not* wire codes, so a kind that slips into a frame
    unmapped is easy to spot. Translate with :func:`error_code_for`.
    """

    FORMAT = "format"
    GENERIC = "generic"
    INTERNAL = "internal"
    NOT_IMPLEMENTED = "not_implemented"
    NOT_SUPPORTED = "not_supported"
    OCCURRENCE = "occurrence"
    PROPERTY = "property"
    PROTOCOL = "protocol"
    SECURITY = "security"
    TYPE = "type"
    MESSAGE_TYPE_NOT_SUPPORTED = "message_type_not_supported"
    RPC_FRAMEWORK = "rpc_framework"


# OCPP-J 1.6 §4.2.3 (CallError codes). The misspellings "FormationViolation" and
# "OccurenceConstraintViolation" are the official 1.6 codes and must stay as they are.
_V16_CODES: dict[ErrorKind, str] = {
    ErrorKind.FORMAT: "FormationViolation",
    ErrorKind.GENERIC: "GenericError",
    ErrorKind.INTERNAL: "InternalError",
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.NOT_SUPPORTED: "NotSupported",
    ErrorKind.OCCURRENCE: "OccurenceConstraintViolation",
    ErrorKind.PROPERTY: "PropertyConstraintViolation",
    ErrorKind.PROTOCOL: "ProtocolError",
    ErrorKind.SECURITY: "SecurityError",
    ErrorKind.TYPE: "TypeConstraintViolation",
    # 1.6 has no MessageTypeNotSupported: an unknown MessageTypeId is ignored
    # (OCPP-J 1.6 §4.1.3), so this code is only used to label the event, never sent.
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "ProtocolError",
    # 1.6 has no RpcFrameworkError; a broken frame is a FormationViolation there.
    ErrorKind.RPC_FRAMEWORK: "FormationViolation",
}

# OCPP 2.0.1 Part 4 §4.3 (ErrorCodes).
_V201_CODES: dict[ErrorKind, str] = {
    ErrorKind.FORMAT: "FormatViolation",
    ErrorKind.GENERIC: "GenericError",
    ErrorKind.INTERNAL: "InternalError",
    ErrorKind.NOT_IMPLEMENTED: "NotImplemented",
    ErrorKind.NOT_SUPPORTED: "NotSupported",
    ErrorKind.OCCURRENCE: "OccurrenceConstraintViolation",
    ErrorKind.PROPERTY: "PropertyConstraintViolation",
    ErrorKind.PROTOCOL: "ProtocolError",
    ErrorKind.SECURITY: "SecurityError",
    ErrorKind.TYPE: "TypeConstraintViolation",
    ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED: "MessageTypeNotSupported",
    ErrorKind.RPC_FRAMEWORK: "RpcFrameworkError",
}

_CODES: dict[str, dict[ErrorKind, str]] = {
    OcppVersion.V16: _V16_CODES,
    OcppVersion.V201: _V201_CODES,
}


def error_code_for(version: OcppVersion, kind: ErrorKind) -> str:
    """Return the CALLERROR ``errorCode`` string that *kind* has in *version*.

    Args:
        version: the connection's negotiated OCPP version.
        kind: the version-neutral error kind.

    Returns:
        The wire code, e.g. ``"FormationViolation"`` for ``ErrorKind.FORMAT`` in 1.6 and
        ``"FormatViolation"`` in 2.0.1. Pass it to ``OcppConnection.send_call_error``.

    Raises:
        KeyError: *version* is not a supported OCPP version.
    """
    return _CODES[version][kind]
