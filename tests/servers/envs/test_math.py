"""Math: every calculator tool's behaviour, failure modes, memory and dependency chains."""

import pytest

from servers import InvalidArgument, NotFound, PreconditionFailed, get_environment, scenario_names
from tests.conftest import refused, run


@pytest.fixture
def box(sandbox_of):
    return sandbox_of("math", "default")


@pytest.fixture
def physics(sandbox_of):
    return sandbox_of("math", "physics_constants")


@pytest.fixture
def finance(sandbox_of):
    return sandbox_of("math", "finance_figures")


def _value(box, tool_name, field="result", **arguments):
    """Run a read-only tool, check it left the state alone, and return one field of its result."""
    before = box.state_hash()
    result = run(box, tool_name, **arguments)
    assert box.state_hash() == before, f"{tool_name} changed the state"
    return getattr(result, field)


def test_every_scenario_loads(sandbox_of):
    names = scenario_names("math")
    assert {"default", "physics_constants", "finance_figures", "memory_nearly_full"} <= set(names)
    for name in names:
        state = sandbox_of("math", name).state()["math"]
        assert len(state["variables"]) <= state["max_variables"]
    assert sandbox_of("math", "default").state()["math"]["variables"] == {}


def test_tool_count_and_read_only_flags():
    specs = get_environment("math").tool_specs()
    assert len(specs) >= 18
    writers = {name for name, spec in specs.items() if not spec.read_only}
    assert writers == {"store_variable", "clear_variable", "clear_all_variables"}


def test_arithmetic(box):
    assert _value(box, "add", a=0.1, b=0.2) == 0.3
    assert run(box, "add", a=12, b=30).expression == "12 + 30 = 42"
    assert _value(box, "subtract", a=10, b=12.5) == -2.5
    assert _value(box, "multiply", a=1850, b=12) == 22200
    assert _value(box, "divide", a=22, b=8) == 2.75
    assert _value(box, "power", base=2, exponent=10) == 1024
    assert _value(box, "power", base=-2, exponent=3) == -8
    assert _value(box, "power", base=16, exponent=-0.5) == 0.25
    assert _value(box, "square_root", number=2) == pytest.approx(1.41421356237310)
    assert _value(box, "absolute_value", number=-1312.4) == 1312.4
    division = run(box, "modulo", dividend=-7, divisor=3)
    assert (division.quotient, division.remainder) == (-3, 2)
    assert _value(box, "logarithm", number=1000, base=10) == 3
    assert _value(box, "logarithm", number=1) == 0
    assert run(box, "logarithm", number=1024, base=2).expression == "log_2(1024) = 10"
    assert _value(box, "factorial", n=5) == 120
    assert _value(box, "factorial", n=0) == 1
    assert _value(box, "factorial", n=170) == pytest.approx(7.257415615308e306)


def test_arithmetic_failures(box):
    assert "zero" in refused(box, "divide", InvalidArgument, a=5, b=0)
    assert "zero" in refused(box, "modulo", InvalidArgument, dividend=5, divisor=0)
    refused(box, "power", InvalidArgument, base=0, exponent=-1)
    assert "not a real number" in refused(box, "power", InvalidArgument, base=-8, exponent=0.5)
    assert "too large" in refused(box, "power", InvalidArgument, base=10, exponent=400)
    assert "too large" in refused(box, "multiply", InvalidArgument, a=1e200, b=1e200)
    refused(box, "square_root", InvalidArgument, number=-4)
    refused(box, "logarithm", InvalidArgument, number=0)
    refused(box, "logarithm", InvalidArgument, number=-3, base=10)
    refused(box, "logarithm", InvalidArgument, number=10, base=1)
    refused(box, "logarithm", InvalidArgument, number=10, base=-2)
    assert "170" in refused(box, "factorial", InvalidArgument, n=171)
    refused(box, "factorial", InvalidArgument, n=-1)


def test_statistics(finance):
    revenue = [41250, 38900.5, 45120.75, 47310]
    assert _value(finance, "sum_numbers", numbers=revenue) == 172581.25
    assert _value(finance, "calculate_mean", numbers=revenue) == 43145.3125
    assert _value(finance, "calculate_median", numbers=revenue) == 43185.375
    assert _value(finance, "calculate_median", numbers=[3, 1, 2]) == 2
    assert _value(finance, "calculate_standard_deviation", numbers=[2, 4, 4, 4, 5, 5, 7, 9]) == 2
    sample = _value(finance, "calculate_standard_deviation", numbers=[2, 4, 4, 4, 5, 5, 7, 9], sample=True)
    assert sample == pytest.approx(2.13808993529940)
    spread = run(finance, "find_min_max", numbers=revenue)
    assert (spread.minimum, spread.maximum, spread.range, spread.count) == (38900.5, 47310, 8409.5, 4)
    assert _value(finance, "calculate_percentile", numbers=[1, 2, 3, 4], percentile=90) == 3.7
    assert _value(finance, "calculate_percentile", numbers=[15, 4, 8], percentile=0) == 4
    assert _value(finance, "calculate_percentile", numbers=[15, 4, 8], percentile=100) == 15


def test_statistics_failures(box):
    for tool_name in ["sum_numbers", "calculate_mean", "calculate_median", "find_min_max"]:
        assert "empty" in refused(box, tool_name, InvalidArgument, numbers=[])
    refused(box, "calculate_standard_deviation", InvalidArgument, numbers=[])
    assert "two" in refused(box, "calculate_standard_deviation", InvalidArgument, numbers=[5], sample=True)
    refused(box, "calculate_percentile", InvalidArgument, numbers=[], percentile=50)
    refused(box, "calculate_percentile", InvalidArgument, numbers=[1, 2], percentile=101)
    refused(box, "calculate_mean", InvalidArgument, numbers=[1, float("nan")])


def test_unit_conversion(box):
    marathon = run(box, "convert_units", value=26.2, from_unit="mi", to_unit="km")
    assert (marathon.result, marathon.category) == (42.1648128, "length")
    assert marathon.expression == "26.2 mi = 42.1648128 km"
    assert _value(box, "convert_units", value=98.6, from_unit="F", to_unit="C") == 37
    assert _value(box, "convert_units", value=0, from_unit="celsius", to_unit="K") == 273.15
    assert _value(box, "convert_units", value=-40, from_unit="C", to_unit="F") == -40
    assert _value(box, "convert_units", value=10, from_unit="Pounds", to_unit="kg") == 4.5359237
    assert _value(box, "convert_units", value=1, from_unit="gal", to_unit="cup") == 16
    assert _value(box, "convert_units", value=2, from_unit="liters", to_unit="ml") == 2000
    converted = run(box, "convert_units", value=6, from_unit="feet", to_unit="Metres")
    assert (converted.from_unit, converted.to_unit, converted.result) == ("ft", "m", 1.8288)


def test_unit_conversion_failures(box):
    assert "list_units" in refused(box, "convert_units", NotFound, value=1, from_unit="furlong", to_unit="m")
    refused(box, "convert_units", NotFound, value=1, from_unit="m", to_unit="parsec")
    assert "cannot convert mass" in refused(box, "convert_units", InvalidArgument, value=1, from_unit="kg", to_unit="m")
    refused(box, "convert_units", InvalidArgument, value=20, from_unit="C", to_unit="l")
    assert "absolute zero" in refused(box, "convert_units", InvalidArgument, value=-300, from_unit="C", to_unit="F")
    refused(box, "convert_units", InvalidArgument, value=-1, from_unit="K", to_unit="C")


def test_listed_units_feed_conversion(box):
    everything = run(box, "list_units")
    assert {"km", "lb", "C", "gal"} <= set(everything.unit_symbols)
    temperatures = run(box, "list_units", category="temperature").unit_symbols
    assert temperatures == ["C", "F", "K"]
    lengths = run(box, "list_units", category="length")
    assert all(unit.category == "length" for unit in lengths.units)
    result = run(box, "convert_units", value=100, from_unit=temperatures[0], to_unit=temperatures[1]).result
    assert result == 212
    for symbol in run(box, "list_units", category="volume").unit_symbols:
        assert run(box, "convert_units", value=1, from_unit=symbol, to_unit="l").result > 0


def test_rounding_and_percentages(box):
    assert _value(box, "round_number", number=2.675, decimals=2) == 2.68
    assert _value(box, "round_number", number=2.5) == 3
    assert _value(box, "round_number", number=-2.5) == -3
    assert _value(box, "round_number", number=1234.5, decimals=-2) == 1200
    assert _value(box, "round_number", number=1e300, decimals=15) == 1e300
    assert _value(box, "calculate_percentage", part=45, whole=60) == 75
    assert _value(box, "calculate_percent_change", old_value=41250, new_value=45120.75) == pytest.approx(9.38363636)
    assert _value(box, "calculate_percent_change", old_value=-50, new_value=-25) == 50
    refused(box, "round_number", InvalidArgument, number=1.5, decimals=16)
    refused(box, "calculate_percentage", InvalidArgument, part=3, whole=0)
    refused(box, "calculate_percent_change", InvalidArgument, old_value=0, new_value=5)


def test_store_recall_list_and_clear(box):
    stored = run(box, "store_variable", variable_name="tip", value=15.55, unit="USD", description="Tip for dinner")
    assert (stored.previous_value, stored.variables_used, stored.max_variables) == (None, 1, 50)
    assert box.state()["math"]["variables"]["tip"] == {
        "variable_name": "tip",
        "value": 15.55,
        "unit": "USD",
        "description": "Tip for dinner",
        "protected": False,
    }
    replaced = run(box, "store_variable", variable_name="tip", value=18)
    assert (replaced.previous_value, replaced.variables_used) == (15.55, 1)
    assert box.state()["math"]["variables"]["tip"]["value"] == 18
    listed = run(box, "list_variables")
    assert (listed.variable_names, listed.max_variables) == (["tip"], 50)
    recalled = run(box, "recall_variable", variable_name=listed.variable_names[0])
    assert (recalled.value, recalled.unit) == (18, None)
    cleared = run(box, "clear_variable", variable_name="tip")
    assert (cleared.variable_name, cleared.value) == ("tip", 18)
    assert box.state()["math"]["variables"] == {}
    assert "none" in refused(box, "recall_variable", NotFound, variable_name="tip")
    refused(box, "clear_variable", NotFound, variable_name="tip")
    refused(box, "store_variable", InvalidArgument, variable_name="2nd total", value=1)
    refused(box, "store_variable", InvalidArgument, variable_name="total", value=float("inf"))


def test_protected_constants(physics):
    assert run(physics, "recall_variable", variable_name="g").value == 9.80665
    assert run(physics, "recall_variable", variable_name="G").value == 6.6743e-11
    assert "case-sensitive" in refused(physics, "recall_variable", NotFound, variable_name="PI")
    assert "protected" in refused(physics, "store_variable", PreconditionFailed, variable_name="pi", value=3.14)
    refused(physics, "clear_variable", PreconditionFailed, variable_name="c")
    everything = run(physics, "clear_all_variables")
    assert everything.cleared == ["drop_height", "launch_angle_deg", "launch_speed", "projectile_mass"]
    assert "pi" in everything.kept_protected and len(everything.kept_protected) == 11
    variables = physics.state()["math"]["variables"]
    assert all(variable["protected"] for variable in variables.values()) and len(variables) == 11


def test_memory_full(sandbox_of):
    box = sandbox_of("math", "memory_nearly_full")
    assert run(box, "store_variable", variable_name="tip", value=15.55).variables_used == 8
    assert "memory is full" in refused(box, "store_variable", PreconditionFailed, variable_name="total", value=102)
    run(box, "store_variable", variable_name="tip", value=16)  # replacing needs no new slot
    run(box, "clear_variable", variable_name="x")
    assert run(box, "store_variable", variable_name="total", value=102).variables_used == 8


def test_recalled_values_chain_through_every_calculation_into_memory(finance):
    """recall_variable -> number -> each calculation -> number -> ... -> store_variable -> variable_name."""
    salary = run(finance, "recall_variable", variable_name="salary_annual").value
    rate = run(finance, "recall_variable", variable_name="tax_rate").value
    tax = run(finance, "multiply", a=salary, b=rate).result
    net = run(finance, "subtract", a=salary, b=tax).result
    monthly = run(finance, "divide", a=net, b=12).result
    assert monthly == 5070
    rent = run(finance, "recall_variable", variable_name="monthly_rent").value
    share = run(finance, "calculate_percentage", part=rent, whole=monthly).result
    rounded = run(finance, "round_number", number=share, decimals=2).result
    assert rounded == 36.49
    left = run(finance, "add", a=monthly, b=-rent).result
    debt = run(finance, "recall_variable", variable_name="credit_card_balance").value
    owed = run(finance, "absolute_value", number=debt).result
    months = run(finance, "modulo", dividend=owed, divisor=left)
    assert (months.quotient, months.remainder) == (0, 1312.4)
    growth = run(finance, "power", base=1.045, exponent=run(finance, "factorial", n=3).result).result
    years = run(finance, "logarithm", number=growth, base=1.045).result
    assert years == pytest.approx(6)
    side = run(
        finance, "square_root", number=run(finance, "convert_units", value=64, from_unit="ft", to_unit="in").result
    )
    assert side.result == pytest.approx(27.7128129211020)
    revenue = [
        run(finance, "recall_variable", variable_name=f"revenue_{m}").value for m in ["jan", "feb", "mar", "apr"]
    ]
    total = run(finance, "sum_numbers", numbers=revenue).result
    mean = run(finance, "calculate_mean", numbers=[total, run(finance, "calculate_median", numbers=revenue).result])
    spread = run(finance, "find_min_max", numbers=revenue)
    change = run(finance, "calculate_percent_change", old_value=spread.minimum, new_value=spread.maximum).result
    p90 = run(finance, "calculate_percentile", numbers=[mean.result, change], percentile=90).result
    sd = run(finance, "calculate_standard_deviation", numbers=[spread.maximum, p90, months.remainder]).result
    name = run(finance, "store_variable", variable_name="net_monthly", value=left, unit="USD").variable_name
    run(finance, "store_variable", variable_name="revenue_sd", value=sd)
    assert run(finance, "recall_variable", variable_name=name).value == 3220
    assert "revenue_sd" in run(finance, "list_variables").variable_names
    assert run(finance, "clear_variable", variable_name=name).value == 3220
    assert name not in finance.state()["math"]["variables"]


def test_same_calls_same_state(sandbox_of):
    def play(seed):
        box = sandbox_of("math", "finance_figures", seed=seed)
        rent = run(box, "recall_variable", variable_name="monthly_rent").value
        run(box, "store_variable", variable_name="yearly_rent", value=run(box, "multiply", a=rent, b=12).result)
        run(box, "clear_variable", variable_name="eur_per_usd")
        return box.state_hash()

    assert play(1) == play(1)
    # the calculator draws no randomness, so the seed does not change the outcome
    assert play(1) == play(2)
