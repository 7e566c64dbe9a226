"""Vehicle state: doors, tyres, brakes, engine, fuel, climate, lights, display units, places and route."""

from typing import Literal

from pydantic import Field, model_validator

from servers.state import StateModel

__all__ = [
    "CRUISE_MIN_KMH",
    "Climate",
    "ClimateMode",
    "DisplayUnits",
    "Door",
    "HeadlightMode",
    "Place",
    "Route",
    "Tyre",
    "VehicleState",
]

CRUISE_MIN_KMH = 40.0

ClimateMode = Literal["auto", "heat", "cool", "vent", "defrost"]
HeadlightMode = Literal["off", "low", "high", "auto"]


class Door(StateModel):
    door_id: str = Field(description="Door name, e.g. 'driver', 'passenger', 'rear_left', 'rear_right'.")
    locked: bool = Field(default=False, description="Whether the door is locked.")


class Tyre(StateModel):
    tyre_id: str = Field(description="Tyre position, e.g. 'front_left'.")
    pressure_psi: float = Field(ge=0, le=80, description="Current pressure in psi.")
    recommended_psi: float = Field(gt=0, le=80, description="Manufacturer's recommended pressure in psi.")
    punctured: bool = Field(default=False, description="Whether the tyre has a puncture and cannot hold air.")


class Place(StateModel):
    name: str = Field(description="Unique place name used as a navigation destination.")
    kind: Literal["tyre_shop", "fuel_station", "point_of_interest"] = Field(description="What kind of place it is.")
    address: str = Field(description="Street address.")
    distance_km: float = Field(gt=0, description="Driving distance from the car's position in kilometres.")


class Climate(StateModel):
    temperature_celsius: float = Field(ge=16, le=30, description="Cabin target temperature in degrees Celsius.")
    fan_speed: int = Field(ge=0, le=7, description="Blower level, 0 (off) to 7 (maximum).")
    mode: ClimateMode = Field(description="Air distribution mode.")
    ac_on: bool = Field(default=False, description="Whether the air-conditioning compressor is on.")


class DisplayUnits(StateModel):
    distance: Literal["km", "miles"] = Field(default="km", description="Unit for distances and speeds.")
    volume: Literal["litres", "gallons"] = Field(default="litres", description="Unit for fuel volumes (US gallons).")
    temperature: Literal["celsius", "fahrenheit"] = Field(default="celsius", description="Unit for temperatures.")


class Route(StateModel):
    destination: str = Field(description="Name of the destination place.")
    distance_km: float = Field(gt=0, description="Route length in kilometres.")
    estimated_minutes: int = Field(ge=1, description="Estimated driving time including current traffic.")


class VehicleState(StateModel):
    model: str = Field(description="Make and model of the car.")
    doors: dict[str, Door] = Field(description="Every door by door id.")
    tyres: dict[str, Tyre] = Field(description="Every tyre by tyre id.")
    brake_force_newtons: float = Field(default=0, ge=0, le=1000, description="Force on the brake pedal; 0=released.")
    parking_brake_engaged: bool = Field(default=True, description="Whether the parking brake is on.")
    engine_running: bool = Field(default=False, description="Whether the engine is running.")
    speed_kmh: float = Field(default=0, ge=0, le=200, description="Current speed in km/h.")
    cruise_speed_kmh: float | None = Field(default=None, description="Cruise-control set speed, null when off.")
    fuel_litres: float = Field(ge=0, description="Fuel in the tank in litres.")
    fuel_capacity_litres: float = Field(gt=0, description="Tank capacity in litres.")
    consumption_l_per_100km: float = Field(gt=0, description="Average fuel consumption in litres per 100 km.")
    climate: Climate = Field(description="Climate-control settings.")
    outside_temperature_celsius: float = Field(description="Outside air temperature in degrees Celsius.")
    windshield_frosted: bool = Field(default=False, description="Whether frost blocks the view through the windshield.")
    headlights: HeadlightMode = Field(default="auto", description="Headlight mode.")
    display_units: DisplayUnits = Field(default_factory=DisplayUnits, description="Units the dashboard shows.")
    places: dict[str, Place] = Field(default_factory=dict, description="Known places by name (navigation database).")
    route: Route | None = Field(default=None, description="Active navigation route, null when none is set.")

    @model_validator(mode="after")
    def _check_consistency(self) -> "VehicleState":
        for table, key_field in ((self.doors, "door_id"), (self.tyres, "tyre_id"), (self.places, "name")):
            for key, item in table.items():
                if getattr(item, key_field) != key:
                    raise ValueError(f"key {key!r} does not match {key_field} {getattr(item, key_field)!r}")
        if not self.doors or not self.tyres:
            raise ValueError("a car needs at least one door and one tyre")
        if self.fuel_litres > self.fuel_capacity_litres:
            raise ValueError(f"fuel_litres {self.fuel_litres} exceeds fuel_capacity_litres {self.fuel_capacity_litres}")
        if self.speed_kmh > 0 and (not self.engine_running or self.parking_brake_engaged):
            raise ValueError("a moving car needs the engine running and the parking brake released")
        if self.cruise_speed_kmh is not None and (not self.engine_running or self.speed_kmh < CRUISE_MIN_KMH):
            raise ValueError(f"cruise control needs the engine running and at least {CRUISE_MIN_KMH:g} km/h")
        if self.climate.ac_on and not self.engine_running:
            raise ValueError("air conditioning cannot be on while the engine is off")
        if self.route is not None and self.route.destination not in self.places:
            raise ValueError(f"route: unknown destination {self.route.destination!r}")
        return self
