"""Vehicle: every tool's behaviour, physical preconditions, failure modes and dependency chains."""

import pytest
from pydantic import ValidationError

from servers import InvalidArgument, NotFound, PreconditionFailed, create_sandbox, get_environment, scenario_names
from tests.conftest import refused, run


@pytest.fixture
def box(sandbox_of):
    return sandbox_of("vehicle", "default")


def car(box):
    return box.state()["vehicle"]


def start(box):
    run(box, "lock_all_doors")
    run(box, "press_brake_pedal", force_newtons=300)
    return run(box, "start_engine")


def drive(box, speed):
    start(box)
    run(box, "release_parking_brake")
    run(box, "release_brake_pedal")
    return run(box, "set_vehicle_speed", speed_kmh=speed)


def test_every_scenario_loads():
    names = scenario_names("vehicle")
    assert {"default", "low_fuel", "flat_tyre", "highway_cruise", "winter_morning"} <= set(names)
    for name in names:
        assert create_sandbox("vehicle", name).state()["vehicle"]["doors"]


def test_bad_scenario_state_is_rejected():
    state = create_sandbox("vehicle").state()["vehicle"]
    model = get_environment("vehicle").state_model
    for change, message in [
        ({"fuel_litres": 60.0}, "exceeds fuel_capacity_litres"),
        ({"speed_kmh": 30.0}, "moving car"),
        ({"route": {"destination": "Atlantis", "distance_km": 5, "estimated_minutes": 9}}, "unknown destination"),
        ({"doors": {"driver": {"door_id": "passenger", "locked": True}}}, "does not match"),
    ]:
        with pytest.raises(ValidationError, match=message):
            model.model_validate(state | change)


def test_door_ids_feed_lock_and_unlock(box):
    status = run(box, "get_door_status")
    assert status.door_ids == ["driver", "passenger", "rear_left", "rear_right"] and not status.all_locked
    for door_id in status.door_ids[:-1]:
        assert run(box, "lock_door", door_id=door_id).changed
    last = run(box, "lock_door", door_id=status.door_ids[-1])
    assert last.all_locked and last.changed
    assert run(box, "lock_door", door_id="driver").changed is False
    unlocked = run(box, "unlock_door", door_id=status.door_ids[2])
    assert unlocked.locked is False and unlocked.all_locked is False
    assert car(box)["doors"]["rear_left"]["locked"] is False
    refused(box, "lock_door", NotFound, door_id="trunk")
    refused(box, "unlock_door", NotFound, door_id="boot")


def test_central_locking(box):
    assert run(box, "lock_all_doors").all_locked
    assert all(door["locked"] for door in car(box)["doors"].values())
    assert run(box, "unlock_all_doors").all_locked is False
    assert not any(door["locked"] for door in car(box)["doors"].values())


def test_start_engine_needs_locked_doors_and_pressed_brake(box):
    message = refused(box, "start_engine", PreconditionFailed)
    assert "lock" in message and "driver" in message
    run(box, "lock_all_doors")
    assert "press_brake_pedal" in refused(box, "start_engine", PreconditionFailed)
    pressed = run(box, "press_brake_pedal", force_newtons=250)
    assert pressed.brake_pressed and car(box)["brake_force_newtons"] == 250
    result = run(box, "start_engine")
    assert result.engine_running and car(box)["engine_running"]
    assert "already running" in refused(box, "start_engine", PreconditionFailed)


def test_start_engine_with_empty_tank_is_refused(box):
    box.environments["vehicle"].state.fuel_litres = 0
    run(box, "lock_all_doors")
    run(box, "press_brake_pedal", force_newtons=300)
    assert "fill_fuel_tank" in refused(box, "start_engine", PreconditionFailed)


def test_brake_pedal(box):
    refused(box, "release_brake_pedal", PreconditionFailed)
    refused(box, "press_brake_pedal", InvalidArgument, force_newtons=0)
    run(box, "press_brake_pedal", force_newtons=120)
    released = run(box, "release_brake_pedal")
    assert released.brake_pressed is False and car(box)["brake_force_newtons"] == 0


def test_drive_then_cruise_then_brake_to_a_stop(box):
    moving = drive(box, 90)
    assert moving.speed_kmh == 90 and moving.display_speed == "90 km/h"
    assert run(box, "activate_cruise_control").cruise_speed_kmh == 90
    cruising = run(box, "activate_cruise_control", speed_kmh=110)
    assert cruising.speed_kmh == 110 and car(box)["cruise_speed_kmh"] == 110
    assert "moving" in refused(box, "stop_engine", PreconditionFailed)
    refused(box, "engage_parking_brake", PreconditionFailed)
    braked = run(box, "press_brake_pedal", force_newtons=600)
    assert braked.speed_kmh == 50 and braked.cruise_control_on is False
    refused(box, "deactivate_cruise_control", PreconditionFailed)
    assert run(box, "press_brake_pedal", force_newtons=800).speed_kmh == 0
    assert run(box, "engage_parking_brake").parking_brake_engaged
    refused(box, "engage_parking_brake", PreconditionFailed)
    stopped = run(box, "stop_engine")
    assert stopped.engine_running is False and car(box)["engine_running"] is False
    assert "not running" in refused(box, "stop_engine", PreconditionFailed)


def test_cruise_control_failures(box):
    assert "engine is off" in refused(box, "activate_cruise_control", PreconditionFailed)
    drive(box, 30)
    assert "below 40" in refused(box, "activate_cruise_control", PreconditionFailed, speed_kmh=60)
    run(box, "set_vehicle_speed", speed_kmh=70)
    refused(box, "activate_cruise_control", InvalidArgument, speed_kmh=20)
    run(box, "press_brake_pedal", force_newtons=100)
    assert "brake pedal" in refused(box, "activate_cruise_control", PreconditionFailed)


def test_deactivate_cruise_on_the_highway(sandbox_of):
    box = sandbox_of("vehicle", "highway_cruise")
    result = run(box, "deactivate_cruise_control")
    assert result.cruise_speed_kmh is None and result.speed_kmh == 120
    assert car(box)["cruise_speed_kmh"] is None
    assert run(box, "activate_cruise_control", speed_kmh=100).cruise_speed_kmh == 100
    assert run(box, "deactivate_cruise_control").speed_kmh == 100
    run(box, "activate_cruise_control")
    assert run(box, "set_vehicle_speed", speed_kmh=130).cruise_speed_kmh is None
    run(box, "activate_cruise_control")
    assert run(box, "set_vehicle_speed", speed_kmh=30).cruise_speed_kmh is None
    assert car(box)["speed_kmh"] == 30


def test_set_vehicle_speed_preconditions(box):
    assert "engine is off" in refused(box, "set_vehicle_speed", PreconditionFailed, speed_kmh=50)
    start(box)
    assert "parking brake" in refused(box, "set_vehicle_speed", PreconditionFailed, speed_kmh=50)
    run(box, "release_parking_brake")
    assert "release_brake_pedal" in refused(box, "set_vehicle_speed", PreconditionFailed, speed_kmh=50)


def test_parking_brake_release_needs_the_brake_pedal(box):
    assert "press_brake_pedal" in refused(box, "release_parking_brake", PreconditionFailed)
    run(box, "press_brake_pedal", force_newtons=200)
    assert run(box, "release_parking_brake").parking_brake_engaged is False
    assert car(box)["parking_brake_engaged"] is False
    refused(box, "release_parking_brake", PreconditionFailed)


def test_fuel_level_feeds_fill(box):
    fuel = run(box, "check_fuel_level")
    assert (fuel.fuel_litres, fuel.litres_to_full, fuel.percent) == (37.5, 12.5, 75.0)
    assert fuel.range_km == 646.6 and fuel.display == "37.5 L"
    refused(box, "fill_fuel_tank", InvalidArgument, litres=fuel.litres_to_full + 0.5)
    filled = run(box, "fill_fuel_tank", litres=fuel.litres_to_full)
    assert filled.fuel_litres == 50.0 and filled.percent == 100.0
    assert car(box)["fuel_litres"] == 50.0
    assert "only 0 L fits" in refused(box, "fill_fuel_tank", InvalidArgument, litres=1)
    refused(box, "fill_fuel_tank", InvalidArgument, litres=0)


def test_fill_needs_the_engine_off(sandbox_of):
    box = sandbox_of("vehicle", "highway_cruise")
    assert "stop_engine" in refused(box, "fill_fuel_tank", PreconditionFailed, litres=5)


def test_low_fuel_route_shortfall_feeds_fill(sandbox_of):
    box = sandbox_of("vehicle", "low_fuel")
    station = run(box, "find_nearest_fuel_station")
    assert station.destination == "Chevron Main Street" and station.display_distance == "4.0 mi"
    assert run(box, "estimate_drive_feasibility", distance_km=station.distance_km).feasible
    assert run(box, "convert_km_miles", value=station.distance_km).converted_value == 3.98
    assert run(box, "set_navigation_destination", destination=station.destination).distance_km == 6.4
    gallons = run(box, "convert_litres_gallons", value=run(box, "check_fuel_level").litres_to_full)
    assert gallons.converted_value == 22.06
    route = run(box, "set_navigation_destination", destination="sequoia national park")
    assert route.destination == "Sequoia National Park" and route.display_distance == "130.5 mi"
    plan = run(box, "estimate_drive_feasibility", distance_km=route.distance_km)
    assert plan.feasible is False and plan.fuel_needed_litres == 26.04 and plan.fuel_shortfall_litres == 22.6
    run(box, "fill_fuel_tank", litres=plan.fuel_shortfall_litres)
    assert car(box)["fuel_litres"] == 26.1
    after = run(box, "estimate_drive_feasibility", distance_km=route.distance_km)
    assert after.feasible and after.fuel_shortfall_litres == 0
    assert run(box, "get_vehicle_status").fuel == "6.9 gal"


def test_tyre_shop_becomes_the_route(sandbox_of):
    box = sandbox_of("vehicle", "flat_tyre")
    refused(box, "get_navigation_route", PreconditionFailed)
    refused(box, "clear_navigation_destination", PreconditionFailed)
    shop = run(box, "find_nearest_tyre_shop")
    assert shop.destination == "Pneu Express Canal Road" and shop.distance_km == 4.3
    route = run(box, "set_navigation_destination", destination=shop.destination)
    assert route.address == "12 Canal Road" and route.estimated_minutes >= 6
    assert car(box)["route"]["destination"] == shop.destination
    assert run(box, "get_navigation_route") == route
    assert run(box, "estimate_drive_feasibility", distance_km=route.distance_km).feasible
    assert run(box, "clear_navigation_destination").cleared_destination == shop.destination
    assert car(box)["route"] is None
    assert "known:" in refused(box, "set_navigation_destination", NotFound, destination="Atlantis")
    refused(box, "estimate_drive_feasibility", InvalidArgument, distance_km=0)


def test_no_tyre_shop_or_station_in_the_database(box):
    box.environments["vehicle"].state.places = {}
    refused(box, "find_nearest_tyre_shop", NotFound)
    refused(box, "find_nearest_fuel_station", NotFound)


def test_low_tyres_feed_inflate(sandbox_of):
    box = sandbox_of("vehicle", "flat_tyre")
    report = run(box, "check_tyre_pressure")
    assert report.low_tyre_ids == ["front_left", "rear_right"]
    assert {t.tyre_id: t.status for t in report.tyres}["front_left"] == "flat"
    assert "tyre shop" in refused(box, "inflate_tyre", PreconditionFailed, tyre_id=report.low_tyre_ids[0])
    refused(box, "inflate_tyre", InvalidArgument, tyre_id="rear_right", pressure_psi=45)
    refused(box, "inflate_tyre", NotFound, tyre_id="spare")
    inflated = run(box, "inflate_tyre", tyre_id=report.low_tyre_ids[1])
    assert inflated.pressure_psi == 36.0 and inflated.status == "ok"
    assert car(box)["tyres"]["rear_right"]["pressure_psi"] == 36.0
    assert run(box, "inflate_tyre", tyre_id=report.tyre_ids[1], pressure_psi=38).pressure_psi == 38
    assert car(box)["tyres"]["front_right"]["pressure_psi"] == 38
    assert run(box, "check_tyre_pressure").low_tyre_ids == ["front_left"]


def test_inflate_refused_while_moving(sandbox_of):
    box = sandbox_of("vehicle", "highway_cruise")
    assert "moving" in refused(box, "inflate_tyre", PreconditionFailed, tyre_id="front_left")


def test_winter_morning_defrost_before_driving(sandbox_of):
    box = sandbox_of("vehicle", "winter_morning")
    assert "windshield frosted" in run(box, "get_vehicle_status").warnings
    refused(box, "defrost_windshield", PreconditionFailed)
    start(box)
    run(box, "release_parking_brake")
    run(box, "release_brake_pedal")
    assert "defrost_windshield" in refused(box, "set_vehicle_speed", PreconditionFailed, speed_kmh=30)
    climate = run(box, "defrost_windshield")
    assert climate.mode == "defrost" and climate.fan_speed == 7 and climate.windshield_frosted is False
    assert car(box)["windshield_frosted"] is False
    assert run(box, "set_vehicle_speed", speed_kmh=30).speed_kmh == 30
    assert run(box, "check_tyre_pressure").low_tyre_ids == ["front_left", "front_right", "rear_left"]


def test_climate_controls(box):
    status = run(box, "get_climate_status")
    assert (status.temperature_celsius, status.fan_speed, status.mode, status.ac_on) == (21.0, 2, "auto", False)
    assert run(box, "set_cabin_temperature", temperature=23.5).display_temperature == "23.5 °C"
    assert run(box, "set_cabin_temperature", temperature=72, unit="fahrenheit").temperature_celsius == 22.2
    refused(box, "set_cabin_temperature", InvalidArgument, temperature=35)
    refused(box, "set_cabin_temperature", InvalidArgument, temperature=50, unit="fahrenheit")
    assert run(box, "set_fan_speed", level=5).fan_speed == 5
    refused(box, "set_fan_speed", InvalidArgument, level=9)
    assert run(box, "set_climate_mode", mode="heat").mode == "heat"
    assert car(box)["climate"] == {"temperature_celsius": 22.2, "fan_speed": 5, "mode": "heat", "ac_on": False}


def test_air_conditioning_needs_the_engine(box):
    assert "start_engine" in refused(box, "set_air_conditioning", PreconditionFailed, on=True)
    start(box)
    assert run(box, "set_air_conditioning", on=True).ac_on and car(box)["climate"]["ac_on"]
    run(box, "stop_engine")
    assert car(box)["climate"]["ac_on"] is False
    assert run(box, "set_air_conditioning", on=False).ac_on is False


def test_headlights(box):
    assert run(box, "set_headlights", mode="high").value == "high"
    assert car(box)["headlights"] == "high"


def test_display_units_change_what_the_dashboard_shows(box):
    refused(box, "set_display_units", InvalidArgument)
    units = run(box, "set_display_units", distance="miles", volume="gallons")
    assert (units.distance, units.volume, units.temperature) == ("miles", "gallons", "celsius")
    assert car(box)["display_units"]["distance"] == "miles"
    assert run(box, "check_fuel_level").display == "9.9 gal"
    run(box, "set_display_units", temperature="fahrenheit")
    assert run(box, "get_climate_status").display_temperature == "70 °F"
    assert run(box, "find_nearest_tyre_shop").display_distance == "1.9 mi"


def test_conversions(box):
    assert run(box, "convert_km_miles", value=100).converted_value == 62.14
    assert run(box, "convert_km_miles", value=26.2, from_unit="miles").to_unit == "km"
    assert run(box, "convert_litres_gallons", value=50).converted_value == 13.21
    assert run(box, "convert_litres_gallons", value=1, from_unit="gallons").converted_value == 3.79
    assert run(box, "convert_celsius_fahrenheit", value=-14).converted_value == 6.8
    assert run(box, "convert_celsius_fahrenheit", value=212, from_unit="fahrenheit").converted_value == 100


def test_route_distance_feeds_conversion(sandbox_of):
    box = sandbox_of("vehicle", "highway_cruise")
    route = run(box, "get_navigation_route")
    assert run(box, "convert_km_miles", value=route.distance_km).converted_value == 260.98
    plan = run(box, "estimate_drive_feasibility", distance_km=route.distance_km)
    assert plan.feasible is False and plan.range_km == 394.4


def test_vehicle_status_summarises_the_car(sandbox_of):
    status = run(sandbox_of("vehicle", "highway_cruise"), "get_vehicle_status")
    assert status.engine_running and status.speed == "120 km/h" and status.cruise_speed_kmh == 120
    assert status.route_destination == "Munich Old Town" and status.warnings == []
    low = run(sandbox_of("vehicle", "low_fuel"), "get_vehicle_status")
    assert low.warnings == ["low fuel"] and low.speed == "0 mph" and low.all_doors_locked


def test_same_seed_same_state_and_seed_changes_traffic():
    def session(seed):
        box = create_sandbox("vehicle", "default", seed)
        start(box)
        run(box, "set_navigation_destination", destination="Harbor City")
        run(box, "set_cabin_temperature", temperature=20)
        return box

    assert session(7).state_hash() == session(7).state_hash()
    minutes = {session(seed).state()["vehicle"]["route"]["estimated_minutes"] for seed in range(8)}
    assert len(minutes) > 1
