"""Calculator worlds: another memory of stored figures (constants, a budget, measurements) and its capacity."""

from servers.registry import get_environment
from servers.scenarios import load_scenario, scenario_names
from servers.worlds._framework import Draw, World, generator

__all__ = ["generate"]


@generator("math")
def generate(draw: Draw) -> World:
    """2-18 variables drawn from the shipped scenarios' and the vocabulary's, own figures moved by up to 30%
    (constants stay exact and protected), in a memory that is sometimes nearly full."""
    env = get_environment("math")
    known = {}
    for name in scenario_names("math"):
        known.update(load_scenario(env, name).state.get("variables", {}))
    for variable in draw.vocab("math_variables"):
        known.setdefault(variable["variable_name"], {"protected": False, "unit": None, **variable})
    chosen = draw.sample(sorted(known), draw.between(2, 18))
    variables = {}
    for name in chosen:
        variable = dict(known[name])
        if not variable.get("protected"):
            variable["value"] = _moved(draw, float(variable["value"]))
        variables[name] = variable
    capacity = draw.pick([len(variables) + draw.between(0, 2), 20, 50, 50, 100])
    state = {"variables": variables, "max_variables": max(1, capacity, len(variables))}
    names = list(variables) + draw.sample([name for name in known if name not in variables], len(variables) // 2 + 1)
    pools = {key: _figures(draw, values) for key, values in draw.pools.items() if _numeric(values)}
    pools |= {"variable_name": names} if names else {}
    return World(state, pools, f"{len(variables)} stored variables, room for {state['max_variables']}.")


def _figures(draw: Draw, values: list) -> list:
    """This world's own figures for a pool of them: the user here works with other numbers, so that a request
    for 7! or the 90th percentile is asked with another number in each world.  Each shipped figure (each item
    of a shipped list) is moved (`_figure`) within the whole numbers beside it; repeats are dropped."""
    drawn: dict[str, int | float | list] = {}  # by its text: 1 and 1.0 are other figures
    for value in values:
        if isinstance(value, list):
            moved: int | float | list = [_figure(draw, item, _whole_range(value)) for item in value]
        else:
            moved = _figure(draw, value, _whole_range(values))
        drawn.setdefault(repr(moved), moved)
    return list(drawn.values())


def _figure(draw: Draw, value: int | float, bounds: tuple[int, int]) -> int | float:
    """`value` moved by up to 30%; a whole number also by up to 2, and kept within `bounds` (so it stays valid)."""
    if isinstance(value, int):
        return min(bounds[1], max(bounds[0], round(value * draw.amount(0.7, 1.3)) + draw.between(-2, 2)))
    return _moved(draw, value)


def _whole_range(values: list) -> tuple[int, int]:
    whole = [value for value in values if isinstance(value, int)]
    return (min(whole), max(whole)) if whole else (0, 0)


def _numeric(values: list) -> bool:
    return bool(values) and all(
        isinstance(value, int | float) and not isinstance(value, bool) for value in _flat(values)
    )


def _flat(values: list) -> list:
    return [item for value in values for item in (value if isinstance(value, list) else [value])]


def _moved(draw: Draw, value: float) -> float:
    """`value` moved by up to 30%, kept to as many decimals as a person would write."""
    moved = value * draw.amount(0.7, 1.3, 0.01)
    return round(moved, 2) if abs(moved) >= 1 else round(moved, 4)
