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
    pools = {"variable_name": names} if names else {}
    return World(state, pools, f"{len(variables)} stored variables, room for {state['max_variables']}.")


def _moved(draw: Draw, value: float) -> float:
    """`value` moved by up to 30%, kept to as many decimals as a person would write."""
    moved = value * draw.amount(0.7, 1.3, 0.01)
    return round(moved, 2) if abs(moved) >= 1 else round(moved, 4)
