"""Vehicle worlds: another car in another state (parked, idling, cruising, frosted, low on fuel) and other places."""

from servers.worlds._framework import Draw, World, generator

__all__ = ["generate"]

_TYRES = ("front_left", "front_right", "rear_left", "rear_right")
_SHOPS = ("QuickTyre", "Pneu Express", "TyreFix", "Wheel World", "RoadGrip")
_STATIONS = ("Shell", "Chevron", "BP", "Esso", "Aral", "TotalEnergies")
_SIGHTS = ("Central Station", "City Hospital", "Town Hall", "Riverside Mall", "Public Library", "Old Town",
           "Airport Terminal 1", "Football Stadium", "Botanical Garden", "Science Museum", "Ski Lodge",
           "Lakeview Cabin", "Harbour Market", "Northside Elementary School", "Business Park")  # fmt: skip


@generator("vehicle")
def generate(draw: Draw) -> World:
    """A car model, its doors and tyres (some low or punctured), a drive state that the car's rules allow,
    weather to match the climate and frost, other units, and 6-16 places with one route set at times."""
    car = draw.pick(draw.vocab("cars"))
    doors = ("driver", "passenger") if car["doors"] == 2 else ("driver", "passenger", "rear_left", "rear_right")
    recommended = float(draw.pick((32, 33, 35, 36, 38)))
    tyres = {}
    for tyre_id in _TYRES:
        pressure, punctured = recommended + draw.pick((0.0, 0.0, -1.0, 1.0, -4.0)), False
        if draw.chance(0.06):
            pressure, punctured = draw.pick((8.0, 14.0, 19.5)), True
        tyres[tyre_id] = {"tyre_id": tyre_id, "pressure_psi": pressure, "recommended_psi": recommended,
                          "punctured": punctured}  # fmt: skip
    outside = float(draw.between(-12, 34))
    moving, running = draw.chance(0.25), draw.chance(0.45)
    running = running or moving
    speed = float(draw.pick((30, 50, 80, 100, 120))) if moving else 0.0
    capacity = float(car["tank"])
    places = _places(draw)
    route = None
    if draw.chance(0.3):
        destination = draw.pick(sorted(places))
        distance = places[destination]["distance_km"]
        route = {"destination": destination, "distance_km": distance,
                 "estimated_minutes": max(1, round(distance / draw.pick((35, 50, 70)) * 60))}  # fmt: skip
    state = {
        "model": car["model"],
        "doors": {door: {"door_id": door, "locked": not running and draw.chance(0.5)} for door in doors},
        "tyres": tyres,
        "brake_force_newtons": 0.0,
        "parking_brake_engaged": not moving and draw.chance(0.8),
        "engine_running": running,
        "speed_kmh": speed,
        "cruise_speed_kmh": speed if moving and speed >= 80 and draw.chance(0.5) else None,
        "fuel_litres": round(capacity * draw.pick((0.05, 0.12, 0.3, 0.5, 0.75, 0.95)), 1),
        "fuel_capacity_litres": capacity,
        "consumption_l_per_100km": float(car["consumption"]),
        "climate": {
            "temperature_celsius": float(draw.between(18, 24)),
            "fan_speed": draw.between(0, 5),
            "mode": "heat" if outside < 5 else "cool" if outside > 26 else draw.pick(("auto", "vent")),
            "ac_on": running and outside > 24,
        },
        "outside_temperature_celsius": outside,
        "windshield_frosted": outside <= 0 and not running and draw.chance(0.7),
        "headlights": draw.pick(("auto", "off", "low")),
        "display_units": {
            "distance": draw.pick(("km", "km", "miles")),
            "volume": draw.pick(("litres", "litres", "gallons")),
            "temperature": draw.pick(("celsius", "celsius", "fahrenheit")),
        },
        "places": places,
        "route": route,
    }
    pools = {
        "door": list(doors),
        "door_id": list(doors),
        "destination": draw.sample(sorted(places), 10),
    }
    doing = f"driving at {speed:g} km/h" if moving else "engine running" if running else "parked"
    return World(state, pools, f"{car['model']}, {doing}, {outside:g} °C outside, {len(places)} known places.")


def _places(draw: Draw) -> dict[str, dict]:
    """Tyre shops and fuel stations on real-looking streets, and sights near and far."""
    places = {}
    for kind, brands, count in (
        ("tyre_shop", _SHOPS, draw.between(1, 3)),
        ("fuel_station", _STATIONS, draw.between(2, 4)),
    ):
        for brand in draw.sample(brands, count):
            street = draw.pick(draw.vocab("streets"))
            name = f"{brand} {street}"
            places[name] = {"name": name, "kind": kind, "address": f"{draw.between(1, 400)} {street}",
                            "distance_km": draw.amount(0.8, 25, 0.1)}  # fmt: skip
    for sight in draw.sample(_SIGHTS, draw.between(3, 8)):
        places[sight] = {"name": sight, "kind": "point_of_interest",
                         "address": f"{draw.between(1, 250)} {draw.pick(draw.vocab('streets'))}",
                         "distance_km": draw.amount(1.5, 60, 0.1)}  # fmt: skip
    for town in draw.sample(draw.vocab("towns"), draw.between(0, 3)):
        places[town] = {"name": town, "kind": "point_of_interest", "address": f"{town} centre",
                        "distance_km": draw.amount(80, 700, 1)}  # fmt: skip
    return places
