"""A car's control system: doors, brake, engine, fuel, tyres, climate, lights, navigation and cruise control."""

from servers.envs.vehicle.state import Door, Place, Tyre, VehicleState
from servers.envs.vehicle.tools import Vehicle

__all__ = ["Door", "Place", "Tyre", "Vehicle", "VehicleState"]
