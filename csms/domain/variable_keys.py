"""Configuration keys: how the API, the CLI and the 2.0.1 adapter name one device model variable.

A 1.6 configuration key is just its name. A 2.0.1 variable belongs to a component (optionally an instance
of it, on an EVSE and connector) and may itself have an instance; its key spells all of that out:

    key        = component "." variable
    component  = name [ "[" instance "]" ] [ "@" evse_id [ ":" connector_id ] ]
    variable   = name [ "[" instance "]" ]

Names contain none of ``. [ ] @ :``; instances contain no brackets. Examples:
``OCPPCommCtrlr.HeartbeatInterval``, ``SampledDataCtrlr.TxUpdatedMeasurands``,
``EVSE@1.AvailabilityState`` (component EVSE of evse 1), ``Connector@1:2.ConnectorType`` (evse 1,
connector 2), ``TokenReader[front].Enabled`` (component instance), ``Controller.Limit[max]`` (variable
instance). Results come back under the same syntax, built from the component and variable the station
echoed; a stored `DeviceVariable` is shown under it too (`configuration_key`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from csms.domain.models import DeviceVariable

_KEY = re.compile(
    r"(?P<component>[^.\[\]@:]+)(?:\[(?P<component_instance>[^\[\]]+)\])?"
    r"(?:@(?P<evse_id>\d+)(?::(?P<connector_id>\d+))?)?"
    r"\.(?P<variable>[^.\[\]@:]+)(?:\[(?P<variable_instance>[^\[\]]+)\])?"
)


@dataclass(frozen=True, slots=True)
class VariableKey:
    """One 2.0.1 device model variable named by a configuration key (syntax: the module docstring)."""

    component: str
    variable: str
    component_instance: str | None = None
    variable_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None

    @classmethod
    def parse(cls, key: str) -> VariableKey:
        """Read a key such as ``EVSE@1.AvailabilityState`` or ``Ctrlr[a].Var[b]``.

        Raises:
            ValueError: the key does not follow the syntax.
        """
        match = _KEY.fullmatch(key)
        if match is None:
            raise ValueError(
                f"{key!r} is not a 2.0.1 configuration key: Component[instance]@evse:connector."
                "Variable[instance], e.g. OCPPCommCtrlr.HeartbeatInterval"
            )
        evse, connector = match["evse_id"], match["connector_id"]
        return cls(
            component=match["component"],
            variable=match["variable"],
            component_instance=match["component_instance"],
            variable_instance=match["variable_instance"],
            evse_id=int(evse) if evse is not None else None,
            connector_id=int(connector) if connector is not None else None,
        )

    def __str__(self) -> str:
        component = self.component
        if self.component_instance is not None:
            component += f"[{self.component_instance}]"
        if self.evse_id is not None:
            component += f"@{self.evse_id}"
            if self.connector_id is not None:
                component += f":{self.connector_id}"
        variable = self.variable
        if self.variable_instance is not None:
            variable += f"[{self.variable_instance}]"
        return f"{component}.{variable}"


def configuration_key(variable: DeviceVariable) -> str:
    """The key of a stored variable: the 1.6 key itself (no component), else the 2.0.1 key, each optional
    part only where the report had it."""
    if variable.component is None:
        return variable.variable
    return str(
        VariableKey(
            variable.component,
            variable.variable,
            variable.component_instance,
            variable.variable_instance,
            variable.evse_id,
            variable.connector_id,
        )
    )
