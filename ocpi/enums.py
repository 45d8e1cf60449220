"""The OCPI 2.2.1 enums of the Locations and Tariffs modules that the operator API's bodies, the eMSP role and
the Agent API share: values exactly as the spec spells them."""

from __future__ import annotations

from enum import StrEnum, auto


class OcpiEnum(StrEnum):
    """An OCPI 2.2.1 enum: every value is its member's name, case kept (members are `auto()`)."""

    @staticmethod
    def _generate_next_value_(name: str, start: int, count: int, last_values: list[str]) -> str:
        return name


class ParkingType(OcpiEnum):
    """OCPI 2.2.1 ParkingType."""

    ALONG_MOTORWAY = auto()
    PARKING_GARAGE = auto()
    PARKING_LOT = auto()
    ON_DRIVEWAY = auto()
    ON_STREET = auto()
    UNDERGROUND_GARAGE = auto()


class Facility(OcpiEnum):
    """OCPI 2.2.1 Facility."""

    HOTEL = auto()
    RESTAURANT = auto()
    CAFE = auto()
    MALL = auto()
    SUPERMARKET = auto()
    SPORT = auto()
    RECREATION_AREA = auto()
    NATURE = auto()
    MUSEUM = auto()
    BIKE_SHARING = auto()
    BUS_STOP = auto()
    TAXI_STAND = auto()
    TRAM_STOP = auto()
    METRO_STATION = auto()
    TRAIN_STATION = auto()
    AIRPORT = auto()
    PARKING_LOT = auto()
    CARPOOL_PARKING = auto()
    FUEL_STATION = auto()
    WIFI = auto()


class ConnectorType(OcpiEnum):
    """OCPI 2.2.1 ConnectorType; case-sensitive (`IEC_60309_2_single_16` is mixed case)."""

    CHADEMO = auto()
    CHAOJI = auto()
    DOMESTIC_A = auto()
    DOMESTIC_B = auto()
    DOMESTIC_C = auto()
    DOMESTIC_D = auto()
    DOMESTIC_E = auto()
    DOMESTIC_F = auto()
    DOMESTIC_G = auto()
    DOMESTIC_H = auto()
    DOMESTIC_I = auto()
    DOMESTIC_J = auto()
    DOMESTIC_K = auto()
    DOMESTIC_L = auto()
    DOMESTIC_M = auto()
    DOMESTIC_N = auto()
    DOMESTIC_O = auto()
    GBT_AC = auto()
    GBT_DC = auto()
    IEC_60309_2_single_16 = auto()
    IEC_60309_2_three_16 = auto()
    IEC_60309_2_three_32 = auto()
    IEC_60309_2_three_64 = auto()
    IEC_62196_T1 = auto()
    IEC_62196_T1_COMBO = auto()
    IEC_62196_T2 = auto()
    IEC_62196_T2_COMBO = auto()
    IEC_62196_T3A = auto()
    IEC_62196_T3C = auto()
    NEMA_5_20 = auto()
    NEMA_6_30 = auto()
    NEMA_6_50 = auto()
    NEMA_10_30 = auto()
    NEMA_10_50 = auto()
    NEMA_14_30 = auto()
    NEMA_14_50 = auto()
    PANTOGRAPH_BOTTOM_UP = auto()
    PANTOGRAPH_TOP_DOWN = auto()
    TESLA_R = auto()
    TESLA_S = auto()


class ConnectorFormat(OcpiEnum):
    """OCPI 2.2.1 ConnectorFormat."""

    SOCKET = auto()
    CABLE = auto()


class PowerType(OcpiEnum):
    """OCPI 2.2.1 PowerType."""

    AC_1_PHASE = auto()
    AC_2_PHASE = auto()
    AC_2_PHASE_SPLIT = auto()
    AC_3_PHASE = auto()
    DC = auto()


class TariffType(OcpiEnum):
    """OCPI 2.2.1 TariffType."""

    AD_HOC_PAYMENT = auto()
    PROFILE_CHEAP = auto()
    PROFILE_FAST = auto()
    PROFILE_GREEN = auto()
    REGULAR = auto()


class TariffDimensionType(OcpiEnum):
    """OCPI 2.2.1 TariffDimensionType."""

    ENERGY = auto()
    FLAT = auto()
    PARKING_TIME = auto()
    TIME = auto()


class DayOfWeek(OcpiEnum):
    """OCPI 2.2.1 DayOfWeek."""

    MONDAY = auto()
    TUESDAY = auto()
    WEDNESDAY = auto()
    THURSDAY = auto()
    FRIDAY = auto()
    SATURDAY = auto()
    SUNDAY = auto()


class ReservationRestrictionType(OcpiEnum):
    """OCPI 2.2.1 ReservationRestrictionType."""

    RESERVATION = auto()
    RESERVATION_EXPIRES = auto()


class EnergySourceCategory(OcpiEnum):
    """OCPI 2.2.1 EnergySourceCategory."""

    NUCLEAR = auto()
    GENERAL_FOSSIL = auto()
    COAL = auto()
    GAS = auto()
    GENERAL_GREEN = auto()
    SOLAR = auto()
    WIND = auto()
    WATER = auto()


class EnvironmentalImpactCategory(OcpiEnum):
    """OCPI 2.2.1 EnvironmentalImpactCategory."""

    NUCLEAR_WASTE = auto()
    CARBON_DIOXIDE = auto()
