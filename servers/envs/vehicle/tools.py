"""The Vehicle environment: result models and tools for doors, brakes, engine, fuel, tyres, climate and navigation."""

import math
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from servers.environment import Environment, tool
from servers.envs.vehicle.state import (
    CRUISE_MIN_KMH,
    ClimateMode,
    DisplayUnits,
    Door,
    HeadlightMode,
    Place,
    Route,
    Tyre,
    VehicleState,
)
from servers.errors import InvalidArgument, NotFound, PreconditionFailed

__all__ = ["Vehicle"]

KM_PER_MILE = 1.609344
LITRES_PER_GALLON = 3.785411784
LOW_PRESSURE_MARGIN_PSI = 3.0
FLAT_PRESSURE_PSI = 15.0
MAX_OVER_RECOMMENDED_PSI = 5.0


class DoorStatus(BaseModel):
    doors: list[Door] = Field(description="Every door, sorted by id.")
    door_ids: list[str] = Field(description="The same doors' ids, in the same order.")
    all_locked: bool = Field(description="Whether every door is locked.")


class DoorResult(BaseModel):
    door_id: str = Field(description="The door acted on.")
    locked: bool = Field(description="Whether it is locked now.")
    changed: bool = Field(description="False when the door was already in that state.")
    all_locked: bool = Field(description="Whether every door is locked now.")


class BrakeResult(BaseModel):
    brake_pressed: bool = Field(description="Whether the brake pedal is pressed.")
    force_newtons: float = Field(description="Force on the pedal in newtons.")
    speed_kmh: float = Field(description="Speed after the action, in km/h.")
    cruise_control_on: bool = Field(description="Whether cruise control is still engaged.")


class EngineResult(BaseModel):
    engine_running: bool = Field(description="Whether the engine is running.")
    fuel_litres: float = Field(description="Fuel in the tank in litres.")


class FuelStatus(BaseModel):
    fuel_litres: float = Field(description="Fuel in the tank in litres.")
    capacity_litres: float = Field(description="Tank capacity in litres.")
    percent: float = Field(description="Tank fill level in percent.")
    litres_to_full: float = Field(description="Litres that still fit in the tank.")
    range_km: float = Field(description="Estimated range on the current fuel in kilometres.")
    display: str = Field(description="Fuel level in the dashboard's volume unit.")


class TyreReading(BaseModel):
    tyre_id: str = Field(description="Tyre position.")
    pressure_psi: float = Field(description="Current pressure in psi.")
    recommended_psi: float = Field(description="Recommended pressure in psi.")
    status: Literal["ok", "low", "flat"] = Field(description="'low' = 3+ psi under recommended, 'flat' = punctured.")


class TyreReport(BaseModel):
    tyres: list[TyreReading] = Field(description="Every tyre, sorted by id.")
    tyre_ids: list[str] = Field(description="The same tyres' ids.")
    low_tyre_ids: list[str] = Field(description="Ids of tyres whose status is 'low' or 'flat'.")


class PlaceResult(BaseModel):
    destination: str = Field(description="Place name, usable as a navigation destination.")
    kind: str = Field(description="Kind of place.")
    address: str = Field(description="Street address.")
    distance_km: float = Field(description="Driving distance in kilometres.")
    display_distance: str = Field(description="Distance in the dashboard's unit.")


class RouteResult(BaseModel):
    destination: str = Field(description="Destination name.")
    address: str = Field(description="Destination address.")
    distance_km: float = Field(description="Route length in kilometres.")
    estimated_minutes: int = Field(description="Estimated driving time in minutes, traffic included.")
    display_distance: str = Field(description="Route length in the dashboard's unit.")


class ClearedRoute(BaseModel):
    cleared_destination: str = Field(description="The destination that was cancelled.")


class Feasibility(BaseModel):
    distance_km: float = Field(description="Distance checked, in kilometres.")
    fuel_needed_litres: float = Field(description="Fuel the distance needs at the average consumption.")
    fuel_litres: float = Field(description="Fuel in the tank now.")
    range_km: float = Field(description="Range on the current fuel in kilometres.")
    feasible: bool = Field(description="Whether the car can cover the distance without refuelling.")
    fuel_shortfall_litres: float = Field(description="Litres to add to make the trip (0 when feasible).")


class FillResult(BaseModel):
    litres_added: float = Field(description="Litres put in the tank.")
    fuel_litres: float = Field(description="Fuel in the tank now.")
    percent: float = Field(description="Tank fill level in percent.")


class ClimateStatus(BaseModel):
    temperature_celsius: float = Field(description="Cabin target temperature in degrees Celsius.")
    display_temperature: str = Field(description="Target temperature in the dashboard's unit.")
    fan_speed: int = Field(description="Blower level 0-7.")
    mode: str = Field(description="Air distribution mode.")
    ac_on: bool = Field(description="Whether air conditioning is on.")
    outside_temperature_celsius: float = Field(description="Outside temperature in degrees Celsius.")
    windshield_frosted: bool = Field(description="Whether the windshield is frosted over.")


class SettingResult(BaseModel):
    setting: str = Field(description="Name of the setting changed.")
    value: str = Field(description="Its new value.")


class ParkingBrakeResult(BaseModel):
    parking_brake_engaged: bool = Field(description="Whether the parking brake is on now.")


class SpeedResult(BaseModel):
    speed_kmh: float = Field(description="Current speed in km/h.")
    display_speed: str = Field(description="Speed in the dashboard's unit.")
    cruise_speed_kmh: float | None = Field(description="Cruise-control set speed, null when off.")


class ConversionResult(BaseModel):
    value: float = Field(description="The value given.")
    from_unit: str = Field(description="Its unit.")
    converted_value: float = Field(description="The converted value, rounded to 2 decimals.")
    to_unit: str = Field(description="The unit converted to.")


class VehicleStatus(BaseModel):
    model: str = Field(description="Make and model.")
    engine_running: bool = Field(description="Whether the engine is running.")
    speed: str = Field(description="Speed in the dashboard's unit.")
    all_doors_locked: bool = Field(description="Whether every door is locked.")
    brake_pressed: bool = Field(description="Whether the brake pedal is pressed.")
    parking_brake_engaged: bool = Field(description="Whether the parking brake is on.")
    cruise_speed_kmh: float | None = Field(description="Cruise-control set speed, null when off.")
    fuel: str = Field(description="Fuel level in the dashboard's unit.")
    headlights: str = Field(description="Headlight mode.")
    warnings: list[str] = Field(description="Active dashboard warnings.")
    route_destination: str | None = Field(description="Active navigation destination, or null.")


DoorId = Annotated[str, Field(description="Door id such as 'driver' or 'rear_left' (see get_door_status).")]
TyreId = Annotated[str, Field(description="Tyre id such as 'front_left' (see check_tyre_pressure).")]


class Vehicle(Environment):
    name = "vehicle"
    description = "A car's control system: doors, brakes, engine, fuel, tyres, climate, lights, navigation, cruise."
    state_model = VehicleState
    state: VehicleState

    @tool(
        read_only=True,
        produces={"door_ids": "door"},
        asks=[
            "Are my car doors locked?",
            "Which doors of my car are locked right now?",
            "Can you check the door locks on my car?",
            "I want to know if I left any door unlocked.",
            "Tell me the lock status of every door.",
        ],
        answers=[
            "Your car has {door_ids#} doors ({door_ids}); "
            "{all_locked?all of them are locked|not all of them are locked}.",
            "{all_locked?Every door is locked.|At least one door is still unlocked.} I checked {door_ids}.",
        ],
    )
    def get_door_status(self) -> DoorStatus:
        """List every door and whether it is locked."""
        doors = [self.state.doors[key] for key in sorted(self.state.doors)]
        return DoorStatus(doors=doors, door_ids=[d.door_id for d in doors], all_locked=self._all_locked())

    @tool(
        consumes={"door_id": "door"},
        asks=[
            "Lock the {door_id} door.",
            "Can you lock the {door_id} door for me?",
            "I need the {door_id} door locked.",
            "Please make sure the {door_id} door is locked.",
            "The {door_id} door should be locked, could you do that?",
        ],
        answers=[
            "Done: the {door_id} door {changed?is now locked|was already locked}.",
            "The {door_id} door is "
            "locked{all_locked?, and so is every other door|; some other doors are still unlocked}.",
        ],
    )
    def lock_door(self, door_id: DoorId) -> DoorResult:
        """Lock one door. Locking an already locked door changes nothing. The engine starts only with all locked."""
        return self._set_lock(door_id, True)

    @tool(
        consumes={"door_id": "door"},
        asks=[
            "Unlock the {door_id} door.",
            "Can you unlock the {door_id} door?",
            "I need to get in through the {door_id} door, please unlock it.",
            "Open the lock on the {door_id} door for me.",
            "Let someone in at the {door_id} door.",
        ],
        answers=[
            "Done: the {door_id} door {changed?is now unlocked|was already unlocked}.",
            "The {door_id} door is unlocked; the other doors are as they were.",
        ],
    )
    def unlock_door(self, door_id: DoorId) -> DoorResult:
        """Unlock one door. The running engine is not affected, but start_engine needs every door locked."""
        return self._set_lock(door_id, False)

    @tool(
        provides=["vehicle_doors_locked"],
        asks=[
            "Lock all the doors.",
            "Can you lock up the car?",
            "I want every door of my car locked.",
            "Lock every door, please.",
            "Make sure the whole car is locked.",
            "(Lock|Secure) (all the doors|every door|the car|all four doors)( now| for me| please|).",
            "(Put on|Engage) the central locking( now| for me| please|).",
            "I('d like| want) (the doors locked|the car locked up|every door locked)( now| please| before we go|).",
        ],
        answers=[
            "Done: all {door_ids#} doors are locked.",
            "The car is locked up: {door_ids} are all locked.",
        ],
    )
    def lock_all_doors(self) -> DoorStatus:
        """Lock every door (central locking). Needed before start_engine."""
        for door in self.state.doors.values():
            door.locked = True
        return self.get_door_status()

    @tool(
        asks=[
            "Unlock all the doors.",
            "Can you unlock the whole car?",
            "I need every door unlocked.",
            "Open all the door locks, please.",
            "Let everyone in by unlocking every door.",
            "(Unlock|Open up) (all the doors|every door|the car|all four doors)( now| for me| please|).",
            "(Pop|Release) the (door locks|central locking)( now| for me| so we can get in|).",
            "I('d like| want) (the doors unlocked|the car open|every door unlocked)( now| please| for the kids|).",
        ],
        answers=[
            "Done: all {door_ids#} doors are unlocked.",
            "Every door is unlocked now ({door_ids}).",
        ],
    )
    def unlock_all_doors(self) -> DoorStatus:
        """Unlock every door (central locking)."""
        for door in self.state.doors.values():
            door.locked = False
        return self.get_door_status()

    @tool(
        provides=["vehicle_brake_pressed"],
        asks=[
            "Press the brake with {force_newtons} newtons.",
            "Put {force_newtons} N on the brake pedal and hold it.",
            "Can you step on the brake with a force of {force_newtons} newtons?",
            "I need the brake pedal held down at {force_newtons} N.",
            "Brake with {force_newtons} newtons of force.",
            "(Press|Push|Hold) (the brake|the brake pedal|down the brake) (with|at) {force_newtons} (newtons|N)( for "
            "me| now|).",
            "(Hold|Keep) the brake (down|pressed) (with|at) {force_newtons} (newtons|N)( of force|).",
        ],
        answers=[
            "The brake pedal is held at {force_newtons} N; the car is doing {speed_kmh} km/h.",
            "Done: the brake is pressed and your speed is {speed_kmh} "
            "km/h{cruise_control_on?| with cruise control off}.",
        ],
    )
    def press_brake_pedal(
        self, force_newtons: Annotated[float, Field(gt=0, le=1000, description="Pedal force in newtons (1-1000).")]
    ) -> BrakeResult:
        """Press the brake pedal and hold it. While moving, slows the car by force/10 km/h and cancels cruise control.
        A pressed brake is needed to start the engine and to release the parking brake."""
        if not 0 < force_newtons <= 1000:
            raise InvalidArgument("force_newtons must be greater than 0 and at most 1000")
        self.state.brake_force_newtons = force_newtons
        self.state.cruise_speed_kmh = None
        self.state.speed_kmh = round(max(0.0, self.state.speed_kmh - force_newtons / 10), 1)
        return self._brake_result()

    @tool(
        requires=["vehicle_brake_pressed"],
        provides=["vehicle_brake_released"],
        asks=[
            "Take my foot off the brake.",
            "Release the brake pedal.",
            "Can you let go of the brake?",
            "I want the brake pedal released now.",
            "Stop pressing the brake, please.",
            "(Lift|Come) off the (brake|brake pedal)( now| please|).",
            "(Stop|Quit) (braking|holding the brake)( now| for me|).",
            "(Release|Let go of|Ease off) the (brake|brake pedal)( now| for me| so we can move|).",
            "I('d like| want) (the brake released|you to let the brake go|the brake pedal up)( now| please|).",
        ],
        answers=[
            "Done: the brake pedal is released and the car is at {speed_kmh} km/h.",
            "The brake is {brake_pressed?still pressed|released now}.",
        ],
    )
    def release_brake_pedal(self) -> BrakeResult:
        """Take the foot off the brake pedal. Needed before set_vehicle_speed."""
        if self.state.brake_force_newtons == 0:
            raise PreconditionFailed("the brake pedal is not pressed")
        self.state.brake_force_newtons = 0
        return self._brake_result()

    @tool(
        requires=["vehicle_doors_locked", "vehicle_brake_pressed"],
        provides=["vehicle_engine_running"],
        asks=[
            "Start up the engine.",
            "Can you start my car?",
            "I'd like the engine running.",
            "Fire up the engine, please.",
            "Get the car started for me.",
            "(Fire up|Turn on) the (engine|car)( now| for me| please|).",
        ],
        answers=[
            "The engine is running, with {fuel_litres} litres in the tank.",
            "Done: your car has started and has {fuel_litres} litres of fuel.",
        ],
    )
    def start_engine(self) -> EngineResult:
        """Start the engine. Preconditions: every door locked, brake pedal pressed, fuel in the tank."""
        if self.state.engine_running:
            raise PreconditionFailed("the engine is already running")
        unlocked = sorted(key for key, door in self.state.doors.items() if not door.locked)
        if unlocked:
            raise PreconditionFailed(f"doors not locked: {', '.join(unlocked)}; lock them (lock_all_doors) first")
        if self.state.brake_force_newtons == 0:
            raise PreconditionFailed("press the brake pedal (press_brake_pedal) before starting the engine")
        if self.state.fuel_litres <= 0:
            raise PreconditionFailed("the fuel tank is empty; fill it with fill_fuel_tank first")
        self.state.engine_running = True
        return EngineResult(engine_running=True, fuel_litres=self.state.fuel_litres)

    @tool(
        requires=["vehicle_engine_running"],
        asks=[
            "Turn off the engine.",
            "Can you shut the engine down?",
            "I want the engine switched off.",
            "Shut the car off, please.",
            "Kill the engine, we're done driving.",
        ],
        answers=[
            "Done: the engine is off, with {fuel_litres} litres left in the tank.",
            "The engine is {engine_running?still running|switched off now}.",
        ],
    )
    def stop_engine(self) -> EngineResult:
        """Stop the engine. Only when the car is stationary; air conditioning switches off with it."""
        if not self.state.engine_running:
            raise PreconditionFailed("the engine is not running")
        self._need_stationary("stop the engine")
        self.state.climate.ac_on = False
        self.state.engine_running = False
        return EngineResult(engine_running=False, fuel_litres=self.state.fuel_litres)

    @tool(
        read_only=True,
        produces={"litres_to_full": "fuel_litres"},
        asks=[
            "How much fuel is in my car?",
            "Check my fuel level.",
            "Can you tell me how far I can get on the fuel I have?",
            "I need to know how full the tank is.",
            "What does the fuel gauge say?",
        ],
        answers=[
            "You have {display} of fuel, {percent}% of the tank, good for about {range_km} km.",
            "The tank is {percent}% full ({fuel_litres} of {capacity_litres} litres); another "
            "{litres_to_full} litres would fill it.",
        ],
    )
    def check_fuel_level(self) -> FuelStatus:
        """Report fuel in the tank, how much still fits, and the estimated range."""
        s = self.state
        return FuelStatus(
            fuel_litres=round(s.fuel_litres, 2),
            capacity_litres=s.fuel_capacity_litres,
            percent=round(100 * s.fuel_litres / s.fuel_capacity_litres, 1),
            litres_to_full=round(s.fuel_capacity_litres - s.fuel_litres, 2),
            range_km=self._range_km(),
            display=self._volume(s.fuel_litres),
        )

    @tool(
        consumes={"litres": "fuel_litres"},
        asks=[
            "Put {litres} litres of fuel in my car.",
            "Pour {litres} litres into the tank.",
            "Can you refuel with {litres} litres?",
            "I want {litres} litres of fuel added.",
            "Fill up the tank with {litres} L, please.",
        ],
        answers=[
            "Done: {litres_added} litres added; the tank holds {fuel_litres} litres now ({percent}% full).",
            "I put in {litres_added} litres, so the tank is {percent}% full.",
        ],
    )
    def fill_fuel_tank(
        self, litres: Annotated[float, Field(gt=0, le=200, description="Litres of fuel to add (see check_fuel_level).")]
    ) -> FillResult:
        """Add fuel. Preconditions: engine off; the tank cannot take more than its capacity."""
        s = self.state
        if litres <= 0:
            raise InvalidArgument("litres must be greater than 0")
        if s.engine_running:
            raise PreconditionFailed("switch the engine off (stop_engine) before refuelling")
        space = round(s.fuel_capacity_litres - s.fuel_litres, 2)
        if litres > space + 1e-9:
            raise InvalidArgument(
                f"only {space:g} L fits (tank {s.fuel_capacity_litres:g} L, {s.fuel_litres:g} L in it)"
            )
        s.fuel_litres = round(min(s.fuel_capacity_litres, s.fuel_litres + litres), 2)
        return FillResult(
            litres_added=litres,
            fuel_litres=s.fuel_litres,
            percent=round(100 * s.fuel_litres / s.fuel_capacity_litres, 1),
        )

    @tool(
        read_only=True,
        produces={"tyre_ids": "tyre", "low_tyre_ids": "tyre"},
        asks=[
            "Check my tyre pressure.",
            "Are any of my tyres low?",
            "Can you read the pressure in all the tyres?",
            "I need to know if a tyre is flat.",
            "How are my tyres doing?",
        ],
        answers=[
            "I checked all {tyre_ids#} tyres. Low or flat: {low_tyre_ids}.",
            "Tyres that need air or repair: {low_tyre_ids} (checked {tyre_ids}).",
        ],
    )
    def check_tyre_pressure(self) -> TyreReport:
        """Read every tyre's pressure and flag tyres that are low (3+ psi under recommended) or flat."""
        readings = [
            TyreReading(
                tyre_id=t.tyre_id,
                pressure_psi=t.pressure_psi,
                recommended_psi=t.recommended_psi,
                status=_tyre_status(t),
            )
            for t in (self.state.tyres[key] for key in sorted(self.state.tyres))
        ]
        low = [r.tyre_id for r in readings if r.status != "ok"]
        return TyreReport(tyres=readings, tyre_ids=[r.tyre_id for r in readings], low_tyre_ids=low)

    @tool(
        consumes={"tyre_id": "tyre"},
        asks=[
            "Inflate the {tyre_id} tyre[ to {pressure_psi} psi].",
            "Can you pump up the {tyre_id} tyre[ to {pressure_psi} psi]?",
            "I need air in the {tyre_id} tyre[, {pressure_psi} psi please].",
            "Top up the pressure in the {tyre_id} tyre[ to {pressure_psi} psi].",
            "The {tyre_id} tyre needs inflating[ to {pressure_psi} psi].",
        ],
        answers=[
            "Done: the {tyre_id} tyre is at {pressure_psi} psi (recommended {recommended_psi} psi).",
            "The {tyre_id} tyre now holds {pressure_psi} psi and reads {status}.",
        ],
    )
    def inflate_tyre(
        self,
        tyre_id: TyreId,
        pressure_psi: Annotated[
            float | None, Field(gt=0, le=80, description="Target pressure in psi; defaults to the recommended value.")
        ] = None,
    ) -> TyreReading:
        """Inflate a tyre with the on-board compressor. Car must be stationary; a punctured tyre cannot hold air
        (use find_nearest_tyre_shop); at most 5 psi over the recommended pressure."""
        tyre = self.state.tyres.get(tyre_id)
        if tyre is None:
            raise NotFound(f"no tyre {tyre_id!r}; tyres: {', '.join(sorted(self.state.tyres))}")
        self._need_stationary("inflate a tyre")
        if tyre.punctured:
            raise PreconditionFailed(f"{tyre_id} is punctured and cannot hold air; drive to a tyre shop to repair it")
        target = tyre.recommended_psi if pressure_psi is None else pressure_psi
        if not 0 < target <= tyre.recommended_psi + MAX_OVER_RECOMMENDED_PSI:
            limit = tyre.recommended_psi + MAX_OVER_RECOMMENDED_PSI
            raise InvalidArgument(f"{target:g} psi is unsafe for {tyre_id}; use at most {limit:g} psi")
        tyre.pressure_psi = target
        return TyreReading(
            tyre_id=tyre_id, pressure_psi=target, recommended_psi=tyre.recommended_psi, status=_tyre_status(tyre)
        )

    @tool(
        read_only=True,
        produces={"destination": "destination", "distance_km": "distance_km"},
        names={"destination": "the nearest tyre shop"},
        asks=[
            "Where's the nearest tyre shop?",
            "Look for a tyre shop close by.",
            "Can you look up the closest place to fix a tyre?",
            "I need a tyre shop near here.",
            "Is there a tyre shop nearby?",
            "(Find|Look up|Search for) the (nearest|closest) (tyre shop|tyre garage|place to fix a tyre)"
            "( for me| now|).",
            "(Where|How far) is the (nearest|closest) (tyre shop|tyre repair place)( from here| around here|)?",
            "I('ve got| have) a (flat|puncture|soft tyre); (where can I get it fixed|is there a tyre shop near me)?",
        ],
        answers=[
            "The nearest tyre shop is {destination} at {address}, {display_distance} away.",
            "Closest tyre shop: {destination}, {address} ({display_distance}).",
        ],
    )
    def find_nearest_tyre_shop(self) -> PlaceResult:
        """Find the closest tyre shop in the navigation database; its name can be set as the destination."""
        return self._nearest("tyre_shop")

    @tool(
        read_only=True,
        produces={"destination": "destination", "distance_km": "distance_km"},
        names={"destination": "the nearest fuel station"},
        asks=[
            "Where's the nearest gas station?",
            "Look for a fuel station close by.",
            "Can you look up the closest place to fill up?",
            "I need to refuel somewhere near here.",
            "Is there a petrol station nearby?",
            "(Find|Look up|Show me) (the nearest|the closest|a nearby) (gas station|fuel station|petrol "
            "station|place to fill up)( please| for me| on the way|).",
            "Where can I (get fuel|fill up|refuel) (near here|around here|close by)?",
        ],
        answers=[
            "The nearest fuel station is {destination} at {address}, {display_distance} away.",
            "Closest place to fill up: {destination}, {address} ({display_distance}).",
        ],
    )
    def find_nearest_fuel_station(self) -> PlaceResult:
        """Find the closest fuel station in the navigation database; its name can be set as the destination."""
        return self._nearest("fuel_station")

    @tool(
        consumes={"destination": "destination"},
        produces={"distance_km": "distance_km"},
        provides=["vehicle_route_set"],
        asks=[
            "Navigate to {destination}.",
            "Take me to {destination}.",
            "Can you set the sat nav for {destination}?",
            "I want to drive to {destination}, plan the route.",
            "Plot a route to {destination}.",
            "Set (the sat nav|the navigation|a route) (for|to) {destination}( please| for me| now|).",
            "(I want to|I need to|I'd like to) (drive|head|go) to {destination}, so (set the route|plan the "
            "route|start the directions).",
        ],
        answers=[
            "Route set to {destination} ({address}): {display_distance}, about {estimated_minutes} min with traffic.",
            "Navigation is heading to {destination}, {display_distance} away; expect about {estimated_minutes} min.",
        ],
    )
    def set_navigation_destination(
        self, destination: Annotated[str, Field(min_length=1, description="Place name, e.g. 'Central Station'.")]
    ) -> RouteResult:
        """Plan a route to a known place (case-insensitive name) and make it the active route, replacing any other.
        The estimated time includes current traffic."""
        place = self._place(destination)
        base_minutes = place.distance_km / (45 if place.distance_km < 30 else 85) * 60
        traffic = self.rng.randint(0, max(2, int(place.distance_km // 8)))
        self.state.route = Route(
            destination=place.name,
            distance_km=place.distance_km,
            estimated_minutes=max(1, round(base_minutes) + traffic),
        )
        return self.get_navigation_route()

    @tool(
        read_only=True,
        requires=["vehicle_route_set"],
        produces={"distance_km": "distance_km"},
        asks=[
            "Where is the navigation taking me?",
            "How far is it to where I'm going?",
            "Can you show me my current route?",
            "I'd like to know how long the drive will take.",
            "What's the ETA on my route?",
            "(Show me|Give me) (my current route|the route I'm on|the current directions)( right now| at the moment|).",
            "(Tell me|Show me) (where the sat nav is taking me|how the drive is looking)( right now| at the moment|).",
            "(How far|How long) (is it|is the drive|have I got) (to my destination|to where I'm going|until we get "
            "there)( now| from here|)?",
        ],
        answers=[
            "You're headed to {destination} ({address}): {display_distance}, about {estimated_minutes} "
            "min with traffic.",
            "The route to {destination} is {display_distance} and should take about {estimated_minutes} min.",
        ],
    )
    def get_navigation_route(self) -> RouteResult:
        """Show the active route: destination, distance and estimated driving time."""
        route = self._route()
        return RouteResult(
            destination=route.destination,
            address=self.state.places[route.destination].address,
            distance_km=route.distance_km,
            estimated_minutes=route.estimated_minutes,
            display_distance=self._distance(route.distance_km),
        )

    @tool(
        requires=["vehicle_route_set"],
        asks=[
            "Cancel the navigation.",
            "Clear my route.",
            "Can you stop the directions?",
            "I don't need the sat nav anymore, turn off the route.",
            "Forget the destination I set.",
            "(Clear|Cancel|Remove|Delete) (the destination|my route|the navigation route|the sat nav destination)( "
            "for now| please|).",
            "I (don't need|no longer need|won't need) (the route|the directions|the sat nav) (now|for today|at this "
            "point), so (clear|cancel) it.",
        ],
        answers=[
            "Done: the route to {cleared_destination} is cancelled.",
            "Navigation to {cleared_destination} is off.",
        ],
    )
    def clear_navigation_destination(self) -> ClearedRoute:
        """Cancel the active route."""
        destination = self._route().destination
        self.state.route = None
        return ClearedRoute(cleared_destination=destination)

    @tool(
        read_only=True,
        consumes={"distance_km": "distance_km"},
        produces={"fuel_shortfall_litres": "fuel_litres"},
        asks=[
            "Can I drive {distance_km} km on the fuel I have?",
            "Do I have enough fuel for {distance_km} km?",
            "Will my tank last {distance_km} kilometres?",
            "I need to go {distance_km} km; will I have to stop for fuel?",
            "Check whether I can make a {distance_km} km trip without refuelling.",
        ],
        answers=[
            "{feasible?Yes, the fuel you have covers it|No, you would have to refuel}: {distance_km} km "
            "takes about {fuel_needed_litres} litres and you have {fuel_litres} litres.",
            "Your range is {range_km} km, so {distance_km} km is {feasible?within reach|too far} on this tank.",
            "For {distance_km} km you need {fuel_needed_litres} litres and have {fuel_litres}; the "
            "shortfall is {fuel_shortfall_litres} litres.",
        ],
    )
    def estimate_drive_feasibility(
        self, distance_km: Annotated[float, Field(gt=0, le=5000, description="Trip distance in kilometres.")]
    ) -> Feasibility:
        """Tell whether the current fuel covers a distance at the car's average consumption, and how many litres
        are missing if not (e.g. for the active route's distance)."""
        if distance_km <= 0:
            raise InvalidArgument("distance_km must be greater than 0")
        needed = distance_km * self.state.consumption_l_per_100km / 100
        shortfall = max(0.0, math.ceil((needed - self.state.fuel_litres) * 10) / 10)
        return Feasibility(
            distance_km=distance_km,
            fuel_needed_litres=round(needed, 2),
            fuel_litres=round(self.state.fuel_litres, 2),
            range_km=self._range_km(),
            feasible=needed <= self.state.fuel_litres,
            fuel_shortfall_litres=shortfall,
        )

    @tool(
        read_only=True,
        asks=[
            "What's the climate control set to?",
            "How warm is the cabin set?",
            "Can you check the temperature and fan settings?",
            "I want to know if the A/C is on.",
            "Tell me what the heating and air are doing.",
            "(Check|Show me|Tell me) (the climate settings|how the climate is set|what the climate control is "
            "doing)( right now| at the moment|).",
            "(What's|What is) the (cabin|inside|car's) temperature set to( right now| at the moment|)?",
            "Is the (A/C|air conditioning) (on|running)( right now| at the moment|)?",
            "How is the (heating|fan|climate control) (set|doing)( right now| in here|)?",
        ],
        answers=[
            "The cabin is set to {display_temperature}, fan at {fan_speed}, {mode} mode, and the A/C is "
            "{ac_on?on|off}.",
            "It's {outside_temperature_celsius} °C outside and the windshield is "
            "{windshield_frosted?frosted over|clear}; inside is set to {display_temperature}.",
        ],
    )
    def get_climate_status(self) -> ClimateStatus:
        """Show cabin temperature, fan, mode, air conditioning, outside temperature and windshield state."""
        c = self.state.climate
        return ClimateStatus(
            temperature_celsius=c.temperature_celsius,
            display_temperature=self._temperature(c.temperature_celsius),
            fan_speed=c.fan_speed,
            mode=c.mode,
            ac_on=c.ac_on,
            outside_temperature_celsius=self.state.outside_temperature_celsius,
            windshield_frosted=self.state.windshield_frosted,
        )

    @tool(
        asks=[
            "Set the cabin to {temperature} degrees[ {unit}].",
            "Can you make it {temperature} degrees[ {unit}] in here?",
            "I'd like the temperature at {temperature}[ {unit}].",
            "Change the thermostat to {temperature}[ degrees {unit}].",
            "Warm or cool the car to {temperature} degrees[ {unit}].",
            "(Set|Change|Turn) the (cabin|temperature|thermostat|heating) to {temperature} degrees[ {unit}]( for "
            "me| please|).",
            "Make it {temperature} degrees[ {unit}] (in here|in the car|inside)( please|).",
            "I('d like| want) the (car|cabin) at {temperature} degrees[ {unit}]( please| now|).",
        ],
        answers=[
            "Done: the cabin is set to {display_temperature}.",
            "The target temperature is now {display_temperature}, with the fan at {fan_speed}.",
        ],
    )
    def set_cabin_temperature(
        self,
        temperature: Annotated[float, Field(description="Target temperature, 16-30 °C or 61-86 °F.")],
        unit: Annotated[Literal["celsius", "fahrenheit"], Field(description="Unit of `temperature`.")] = "celsius",
    ) -> ClimateStatus:
        """Set the cabin target temperature."""
        celsius = temperature if unit == "celsius" else (temperature - 32) * 5 / 9
        if not 16 <= round(celsius, 1) <= 30:
            raise InvalidArgument(f"{temperature:g} {unit} is out of range; use 16-30 °C (61-86 °F)")
        self.state.climate.temperature_celsius = round(celsius, 1)
        return self.get_climate_status()

    @tool(
        asks=[
            "Set the fan to level {level}.",
            "Can you put the blower on {level}?",
            "I want the fan speed at {level}.",
            "Change the fan to {level}, please.",
            "Turn the air flow to level {level}.",
        ],
        answers=[
            "Done: the fan is at level {fan_speed}.",
            "The blower is on {fan_speed} now, in {mode} mode.",
        ],
    )
    def set_fan_speed(
        self, level: Annotated[int, Field(ge=0, le=7, description="Blower level, 0 (off) to 7.")]
    ) -> ClimateStatus:
        """Set the climate blower level."""
        if not 0 <= level <= 7:
            raise InvalidArgument("level must be between 0 and 7")
        self.state.climate.fan_speed = level
        return self.get_climate_status()

    @tool(
        asks=[
            "Switch the climate to {mode} mode.",
            "Can you put the air on {mode} mode?",
            "I want the climate control in {mode} mode.",
            "Change the air setting to {mode}.",
            "Set the ventilation mode to {mode}.",
        ],
        answers=[
            "Done: the climate control is in {mode} mode.",
            "Air is now set to {mode}, with the fan at {fan_speed} and the cabin at {display_temperature}.",
        ],
    )
    def set_climate_mode(
        self, mode: Annotated[ClimateMode, Field(description="Air distribution mode.")]
    ) -> ClimateStatus:
        """Set the air distribution mode (auto, heat, cool, vent or defrost)."""
        self.state.climate.mode = mode
        return self.get_climate_status()

    @tool(
        requires=["vehicle_engine_running"],
        asks=[
            "{on?Turn the A/C on|Turn the A/C off}.",
            "Can you switch the air conditioning {on?on|off}?",
            "I want the A/C {on?running|off}.",
            "{on?It's hot in here, put the air conditioning on|That's cold enough, switch the air conditioning off}.",
            "Please {on?start|stop} the air conditioning.",
        ],
        answers=[
            "Done: the A/C is {ac_on?on|off}.",
            "Air conditioning is {ac_on?running|off} now; the cabin is set to {display_temperature}.",
        ],
    )
    def set_air_conditioning(
        self, on: Annotated[bool, Field(description="True to switch the A/C compressor on, false for off.")]
    ) -> ClimateStatus:
        """Switch air conditioning on or off. Switching it on needs the engine running."""
        if on:
            self._need_engine("switch on air conditioning")
        self.state.climate.ac_on = on
        return self.get_climate_status()

    @tool(
        requires=["vehicle_engine_running"],
        provides=["vehicle_windshield_clear"],
        asks=[
            "Defrost the windshield.",
            "Can you clear the frost off the windshield?",
            "I can't see through the windshield, it's iced over.",
            "Get the windshield defrosted, please.",
            "Clear my windscreen so I can drive.",
        ],
        answers=[
            "Done: the windshield is {windshield_frosted?still frosted|clear}, with the fan at "
            "{fan_speed} in {mode} mode.",
            "Defrost is running at full fan and the windshield is {windshield_frosted?not clear yet|clear}.",
        ],
    )
    def defrost_windshield(self) -> ClimateStatus:
        """Clear frost from the windshield: sets defrost mode and maximum fan. Needs the engine running."""
        self._need_engine("defrost the windshield")
        self.state.climate.mode = "defrost"
        self.state.climate.fan_speed = 7
        self.state.windshield_frosted = False
        return self.get_climate_status()

    @tool(
        asks=[
            "Set my headlight mode to {mode}.",
            "Can you change the headlight setting to {mode}?",
            "I want the headlight switch at {mode}.",
            "Turn the headlight dial to {mode}, please.",
            "Put the headlights in {mode} mode.",
        ],
        answers=[
            "Done: the headlight setting is {value}.",
            "The {setting} are set to {value} now.",
        ],
    )
    def set_headlights(
        self, mode: Annotated[HeadlightMode, Field(description="off, low, high or auto.")]
    ) -> SettingResult:
        """Switch the headlights (off, low beam, high beam or automatic)."""
        self.state.headlights = mode
        return SettingResult(setting="headlights", value=mode)

    @tool(
        asks=[
            "Put the parking brake on.",
            "Can you engage the handbrake?",
            "I want the parking brake set.",
            "Pull the handbrake, please.",
            "Set the parking brake before I get out.",
        ],
        answers=[
            "Done: the parking brake is {parking_brake_engaged?on|off}.",
            "The handbrake is {parking_brake_engaged?engaged|released}.",
        ],
    )
    def engage_parking_brake(self) -> ParkingBrakeResult:
        """Engage the parking brake. Only when the car is stationary."""
        self._need_stationary("engage the parking brake")
        if self.state.parking_brake_engaged:
            raise PreconditionFailed("the parking brake is already engaged")
        self.state.parking_brake_engaged = True
        return ParkingBrakeResult(parking_brake_engaged=True)

    @tool(
        requires=["vehicle_brake_pressed"],
        provides=["vehicle_parking_brake_released"],
        asks=[
            "Take the parking brake off.",
            "Can you take the handbrake off?",
            "I need the parking brake released.",
            "Let off the handbrake, please.",
            "Get the parking brake off so we can go.",
            "(Release|Take off|Let off) the handbrake( now| for me| so we can go|).",
            "(Take off|Let off) the parking brake( now| for me| so we can go|).",
        ],
        answers=[
            "Done: the parking brake is {parking_brake_engaged?still on|released}.",
            "The handbrake is {parking_brake_engaged?engaged|off} now.",
        ],
    )
    def release_parking_brake(self) -> ParkingBrakeResult:
        """Release the parking brake. The brake pedal must be pressed. Needed before driving."""
        if not self.state.parking_brake_engaged:
            raise PreconditionFailed("the parking brake is already released")
        if self.state.brake_force_newtons == 0:
            raise PreconditionFailed("press the brake pedal (press_brake_pedal) to release the parking brake")
        self.state.parking_brake_engaged = False
        return ParkingBrakeResult(parking_brake_engaged=False)

    @tool(
        requires=["vehicle_engine_running", "vehicle_parking_brake_released", "vehicle_brake_released"],
        provides=["vehicle_moving"],
        asks=[
            "Drive at {speed_kmh} km/h.",
            "Can you bring the car to {speed_kmh} km/h?",
            "I want to go {speed_kmh} km/h.",
            "Change our speed to {speed_kmh} km/h.",
            "Take us to {speed_kmh} kilometres an hour.",
        ],
        answers=[
            "Done: you're driving at {display_speed}.",
            "The car is now doing {display_speed}.",
        ],
    )
    def set_vehicle_speed(
        self, speed_kmh: Annotated[float, Field(ge=0, le=200, description="Speed to drive at in km/h (0-200).")]
    ) -> SpeedResult:
        """Accelerate or slow to a speed. Preconditions: engine running, parking brake and brake pedal released,
        windshield not frosted. Disengages cruise control."""
        if not 0 <= speed_kmh <= 200:
            raise InvalidArgument("speed_kmh must be between 0 and 200")
        s = self.state
        self._need_engine("drive")
        if s.parking_brake_engaged:
            raise PreconditionFailed("the parking brake is engaged; release it (release_parking_brake) first")
        if s.brake_force_newtons > 0:
            raise PreconditionFailed("the brake pedal is pressed; release it (release_brake_pedal) first")
        if s.windshield_frosted and speed_kmh > 0:
            raise PreconditionFailed("the windshield is frosted over; run defrost_windshield before driving")
        s.cruise_speed_kmh, s.speed_kmh = None, speed_kmh
        return self._speed_result()

    @tool(
        requires=["vehicle_engine_running", "vehicle_moving"],
        provides=["vehicle_cruise_control_on"],
        asks=[
            "Turn on cruise control[ at {speed_kmh} km/h].",
            "Can you set the cruise control[ to {speed_kmh} km/h]?",
            "I want cruise control on[, holding {speed_kmh} km/h].",
            "Engage cruise[ at {speed_kmh} km/h], please.",
            "Let the car hold its speed on cruise control[ at {speed_kmh} km/h].",
        ],
        answers=[
            "Cruise control is on, holding {display_speed}.",
            "Done: the car holds {display_speed} on cruise control.",
        ],
    )
    def activate_cruise_control(
        self,
        speed_kmh: Annotated[
            float | None, Field(ge=40, le=180, description="Set speed in km/h (40-180); defaults to the current speed.")
        ] = None,
    ) -> SpeedResult:
        """Engage cruise control. Preconditions: engine running, driving at 40 km/h or more, brake pedal released."""
        s = self.state
        self._need_engine("use cruise control")
        if s.speed_kmh < CRUISE_MIN_KMH:
            raise PreconditionFailed(f"speed {s.speed_kmh:g} km/h is below {CRUISE_MIN_KMH:g} km/h; accelerate first")
        if s.brake_force_newtons > 0:
            raise PreconditionFailed("the brake pedal is pressed; release it first")
        target = s.speed_kmh if speed_kmh is None else speed_kmh
        if not CRUISE_MIN_KMH <= target <= 180:
            raise InvalidArgument("cruise speed must be between 40 and 180 km/h")
        s.speed_kmh = s.cruise_speed_kmh = target
        return self._speed_result()

    @tool(
        requires=["vehicle_cruise_control_on"],
        asks=[
            "Turn off cruise control.",
            "Can you switch the cruise control off?",
            "I want to drive manually again.",
            "Cancel cruise, please.",
            "Disengage the cruise control.",
        ],
        answers=[
            "Done: cruise control is off; you're at {display_speed} under manual control.",
            "Cruise is off and the car keeps {display_speed} for now.",
        ],
    )
    def deactivate_cruise_control(self) -> SpeedResult:
        """Disengage cruise control; the car keeps its current speed under manual control."""
        if self.state.cruise_speed_kmh is None:
            raise PreconditionFailed("cruise control is not on")
        self.state.cruise_speed_kmh = None
        return self._speed_result()

    @tool(
        asks=[
            "[Show distances in {distance}. ][Show fuel in {volume}. ][Show temperatures in {temperature}.]",
            "Can you change the dashboard units?[ Distances in {distance}.][ Fuel in {volume}.][ "
            "Temperatures in {temperature}.]",
            "I want different units on my dashboard.[ Use {distance} for distance.][ Use {volume} for "
            "fuel.][ Use {temperature} for temperature.]",
            "Switch my display settings.[ Distance in {distance}.][ Volume in {volume}.][ Temperature in "
            "{temperature}.]",
        ],
        answers=[
            "Done: the dashboard shows distances in {distance}, fuel in {volume} and temperatures in {temperature}.",
            "Your display units are now {distance}, {volume} and {temperature}.",
        ],
    )
    def set_display_units(
        self,
        distance: Annotated[Literal["km", "miles"] | None, Field(description="Distance/speed unit.")] = None,
        volume: Annotated[Literal["litres", "gallons"] | None, Field(description="Fuel volume unit.")] = None,
        temperature: Annotated[Literal["celsius", "fahrenheit"] | None, Field(description="Temperature unit.")] = None,
    ) -> DisplayUnits:
        """Change the units the dashboard shows; omitted units stay as they are. Give at least one."""
        if distance is None and volume is None and temperature is None:
            raise InvalidArgument("give at least one of distance, volume or temperature")
        units = self.state.display_units
        units.distance = distance or units.distance
        units.volume = volume or units.volume
        units.temperature = temperature or units.temperature
        return units.model_copy()

    @tool(
        read_only=True,
        consumes={"value": "distance_km"},
        asks=[
            "Convert {value}[ {from_unit}] between kilometres and miles.",
            "How much is {value}[ {from_unit}] in miles or kilometres?",
            "I need {value}[ {from_unit}] converted between km and miles.",
            "Can you do a kilometre and mile conversion for {value}[ {from_unit}]?",
            "What's {value}[ {from_unit}] when you switch between km and miles?",
        ],
        answers=[
            "In {to_unit}, {value} {from_unit} is {converted_value}.",
            "That comes to {converted_value} {to_unit}.",
        ],
    )
    def convert_km_miles(
        self,
        value: Annotated[float, Field(ge=0, description="Distance to convert.")],
        from_unit: Annotated[Literal["km", "miles"], Field(description="Unit of `value`.")] = "km",
    ) -> ConversionResult:
        """Convert a distance between kilometres and miles."""
        factor = 1 / KM_PER_MILE if from_unit == "km" else KM_PER_MILE
        return _converted(value, from_unit, value * factor, "miles" if from_unit == "km" else "km")

    @tool(
        read_only=True,
        consumes={"value": "fuel_litres"},
        asks=[
            "Convert {value}[ {from_unit}] between litres and gallons.",
            "How much is {value}[ {from_unit}] in gallons or litres?",
            "I need {value}[ {from_unit}] converted between litres and US gallons.",
            "Can you do a litre and gallon conversion for {value}[ {from_unit}]?",
            "What's {value}[ {from_unit}] when you switch between litres and gallons?",
        ],
        answers=[
            "In {to_unit}, {value} {from_unit} is {converted_value}.",
            "That comes to {converted_value} {to_unit}.",
        ],
    )
    def convert_litres_gallons(
        self,
        value: Annotated[float, Field(ge=0, description="Volume to convert.")],
        from_unit: Annotated[
            Literal["litres", "gallons"], Field(description="Unit of `value` (US gallons).")
        ] = "litres",
    ) -> ConversionResult:
        """Convert a volume between litres and US gallons."""
        factor = 1 / LITRES_PER_GALLON if from_unit == "litres" else LITRES_PER_GALLON
        return _converted(value, from_unit, value * factor, "gallons" if from_unit == "litres" else "litres")

    @tool(
        read_only=True,
        asks=[
            "Convert {value} degrees[ {from_unit}] between Celsius and Fahrenheit.",
            "What's {value} degrees[ {from_unit}] on the other temperature scale?",
            "I need {value} degrees[ {from_unit}] converted between Celsius and Fahrenheit.",
            "Can you do a Celsius and Fahrenheit conversion for {value} degrees[ {from_unit}]?",
            "How warm is {value} degrees[ {from_unit}] on the other scale?",
        ],
        answers=[
            "In {to_unit}, {value} degrees {from_unit} is {converted_value} degrees.",
            "That comes to {converted_value} degrees {to_unit}.",
        ],
    )
    def convert_celsius_fahrenheit(
        self,
        value: Annotated[float, Field(description="Temperature to convert.")],
        from_unit: Annotated[Literal["celsius", "fahrenheit"], Field(description="Unit of `value`.")] = "celsius",
    ) -> ConversionResult:
        """Convert a temperature between degrees Celsius and Fahrenheit."""
        if from_unit == "celsius":
            return _converted(value, from_unit, value * 9 / 5 + 32, "fahrenheit")
        return _converted(value, from_unit, (value - 32) * 5 / 9, "celsius")

    @tool(
        read_only=True,
        asks=[
            "How's my car doing?",
            "Give me a rundown of the dashboard.",
            "Can you check the car's overall status?",
            "I want to know if there are any warnings on my car.",
            "What does the dashboard say right now?",
        ],
        answers=[
            "Your {model} is at {speed} with the engine {engine_running?running|off}; it has {fuel} of "
            "fuel and the doors are {all_doors_locked?all locked|not all locked}[. You're navigating to "
            "{route_destination}].",
            "Dashboard warnings: {warnings}. The parking brake is {parking_brake_engaged?on|off} and the "
            "headlights are set to {headlights}.",
        ],
    )
    def get_vehicle_status(self) -> VehicleStatus:
        """Dashboard overview: engine, speed, doors, brakes, cruise, fuel, lights, warnings and route."""
        s = self.state
        warnings = [f"tyre {key} {_tyre_status(t)}" for key, t in sorted(s.tyres.items()) if _tyre_status(t) != "ok"]
        if s.fuel_litres < 0.1 * s.fuel_capacity_litres:
            warnings.append("low fuel")
        if s.windshield_frosted:
            warnings.append("windshield frosted")
        return VehicleStatus(
            model=s.model,
            engine_running=s.engine_running,
            speed=self._speed(s.speed_kmh),
            all_doors_locked=self._all_locked(),
            brake_pressed=s.brake_force_newtons > 0,
            parking_brake_engaged=s.parking_brake_engaged,
            cruise_speed_kmh=s.cruise_speed_kmh,
            fuel=self._volume(s.fuel_litres),
            headlights=s.headlights,
            warnings=warnings,
            route_destination=s.route.destination if s.route else None,
        )

    def _set_lock(self, door_id: str, locked: bool) -> DoorResult:
        door = self.state.doors.get(door_id)
        if door is None:
            raise NotFound(f"no door {door_id!r}; doors: {', '.join(sorted(self.state.doors))}")
        changed = door.locked != locked
        door.locked = locked
        return DoorResult(door_id=door_id, locked=locked, changed=changed, all_locked=self._all_locked())

    def _all_locked(self) -> bool:
        return all(door.locked for door in self.state.doors.values())

    def _need_engine(self, action: str) -> None:
        if not self.state.engine_running:
            raise PreconditionFailed(f"the engine is off; start it (start_engine) to {action}")

    def _need_stationary(self, action: str) -> None:
        if self.state.speed_kmh > 0:
            raise PreconditionFailed(f"the car is moving at {self.state.speed_kmh:g} km/h; stop it to {action}")

    def _brake_result(self) -> BrakeResult:
        s = self.state
        return BrakeResult(
            brake_pressed=s.brake_force_newtons > 0,
            force_newtons=s.brake_force_newtons,
            speed_kmh=s.speed_kmh,
            cruise_control_on=s.cruise_speed_kmh is not None,
        )

    def _speed_result(self) -> SpeedResult:
        s = self.state
        return SpeedResult(
            speed_kmh=s.speed_kmh, display_speed=self._speed(s.speed_kmh), cruise_speed_kmh=s.cruise_speed_kmh
        )

    def _range_km(self) -> float:
        return round(self.state.fuel_litres / self.state.consumption_l_per_100km * 100, 1)

    def _place(self, name: str) -> Place:
        for place in self.state.places.values():
            if place.name.lower() == name.strip().lower():
                return place
        known = ", ".join(sorted(self.state.places)) or "none"
        raise NotFound(f"no place named {name!r} in the navigation database (known: {known})")

    def _nearest(self, kind: str) -> PlaceResult:
        places = sorted(
            (p for p in self.state.places.values() if p.kind == kind), key=lambda p: (p.distance_km, p.name)
        )
        if not places:
            raise NotFound(f"no {kind.replace('_', ' ')} in the navigation database")
        p = places[0]
        return PlaceResult(
            destination=p.name,
            kind=p.kind,
            address=p.address,
            distance_km=p.distance_km,
            display_distance=self._distance(p.distance_km),
        )

    def _route(self) -> Route:
        if self.state.route is None:
            raise PreconditionFailed("no route is set; call set_navigation_destination first")
        return self.state.route

    def _distance(self, km: float) -> str:
        return f"{km:.1f} km" if self.state.display_units.distance == "km" else f"{km / KM_PER_MILE:.1f} mi"

    def _speed(self, kmh: float) -> str:
        return f"{kmh:.0f} km/h" if self.state.display_units.distance == "km" else f"{kmh / KM_PER_MILE:.0f} mph"

    def _volume(self, litres: float) -> str:
        return (
            f"{litres:.1f} L"
            if self.state.display_units.volume == "litres"
            else f"{litres / LITRES_PER_GALLON:.1f} gal"
        )

    def _temperature(self, celsius: float) -> str:
        return (
            f"{celsius:.1f} °C"
            if self.state.display_units.temperature == "celsius"
            else f"{celsius * 9 / 5 + 32:.0f} °F"
        )


def _tyre_status(tyre: Tyre) -> Literal["ok", "low", "flat"]:
    if tyre.punctured or tyre.pressure_psi < FLAT_PRESSURE_PSI:
        return "flat"
    return "low" if tyre.pressure_psi <= tyre.recommended_psi - LOW_PRESSURE_MARGIN_PSI else "ok"


def _converted(value: float, from_unit: str, converted: float, to_unit: str) -> ConversionResult:
    return ConversionResult(value=value, from_unit=from_unit, converted_value=round(converted, 2), to_unit=to_unit)
