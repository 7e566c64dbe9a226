"""A scientific calculator: arithmetic, statistics, unit conversion, rounding and a memory of named variables."""

import math
import re
import statistics
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Context, Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from servers.environment import Environment, tool
from servers.errors import InvalidArgument, NotFound, PreconditionFailed
from servers.state import StateModel

__all__ = ["Math", "MathState", "Variable"]

MAX_FACTORIAL = 170
"""The largest n whose factorial a double-precision number can hold."""

_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,31}$"

Category = Literal["length", "mass", "temperature", "volume"]

# symbol: (quantity, size of one unit in the quantity's base unit m, kg or L (None for temperature), name)
# fmt: off
_UNITS: dict[str, tuple[Category, float | None, str]] = {
    "mm": ("length", 0.001, "millimetre"), "cm": ("length", 0.01, "centimetre"), "m": ("length", 1.0, "metre"),
    "km": ("length", 1000.0, "kilometre"), "in": ("length", 0.0254, "inch"), "ft": ("length", 0.3048, "foot"),
    "yd": ("length", 0.9144, "yard"), "mi": ("length", 1609.344, "mile"), "nmi": ("length", 1852.0, "nautical mile"),
    "mg": ("mass", 1e-6, "milligram"), "g": ("mass", 0.001, "gram"), "kg": ("mass", 1.0, "kilogram"),
    "t": ("mass", 1000.0, "tonne"), "oz": ("mass", 0.028349523125, "ounce"), "lb": ("mass", 0.45359237, "pound"),
    "st": ("mass", 6.35029318, "stone"),
    "ml": ("volume", 0.001, "millilitre"), "l": ("volume", 1.0, "litre"), "m3": ("volume", 1000.0, "cubic metre"),
    "tsp": ("volume", 0.00492892159375, "US teaspoon"), "tbsp": ("volume", 0.01478676478125, "US tablespoon"),
    "fl_oz": ("volume", 0.0295735295625, "US fluid ounce"), "cup": ("volume", 0.2365882365, "US cup"),
    "pt": ("volume", 0.473176473, "US pint"), "qt": ("volume", 0.946352946, "US quart"),
    "gal": ("volume", 3.785411784, "US gallon"),
    "C": ("temperature", None, "degree Celsius"), "F": ("temperature", None, "degree Fahrenheit"),
    "K": ("temperature", None, "kelvin"),
}
# fmt: on
_UNIT_ALIASES = {"feet": "ft", "inches": "in", "lbs": "lb", "celsius": "C", "fahrenheit": "F", "°c": "C", "°f": "F"}


class Variable(StateModel):
    """A named value kept in the calculator's memory."""

    variable_name: str = Field(description="Name of the variable, e.g. 'principal' or 'g' (case-sensitive).")
    value: float = Field(description="The stored number.")
    unit: str | None = Field(default=None, description="Unit the value is expressed in, e.g. 'm/s^2', or null.")
    description: str | None = Field(default=None, description="What the value stands for, or null.")
    protected: bool = Field(default=False, description="A protected constant cannot be overwritten or cleared.")


class MathState(StateModel):
    """The calculator's memory; every computation itself is stateless."""

    variables: dict[str, Variable] = Field(default_factory=dict, description="Stored variables by name.")
    max_variables: int = Field(default=50, ge=1, description="How many variables the memory can hold at once.")

    @model_validator(mode="after")
    def _check_memory(self) -> "MathState":
        for name, variable in self.variables.items():
            if variable.variable_name != name:
                raise ValueError(f"variables: key {name!r} does not match variable_name {variable.variable_name!r}")
            if not re.match(_NAME_PATTERN, name):
                raise ValueError(f"variables: {name!r} is not a valid variable name")
            if not math.isfinite(variable.value):
                raise ValueError(f"variables: {name!r} holds a value that is not a finite number")
        if len(self.variables) > self.max_variables:
            raise ValueError(f"variables: {len(self.variables)} stored but max_variables is {self.max_variables}")
        return self


class NumberResult(BaseModel):
    result: float = Field(description="The computed number (15 significant digits).")
    expression: str = Field(description="The computation performed, written out.")


class DivisionResult(BaseModel):
    quotient: float = Field(description="The floor of dividend / divisor.")
    remainder: float = Field(description="dividend - divisor * quotient; it has the sign of the divisor.")
    expression: str = Field(description="The computation performed, written out.")


class MinMaxResult(BaseModel):
    minimum: float = Field(description="The smallest value.")
    maximum: float = Field(description="The largest value.")
    range: float = Field(description="maximum - minimum.")
    count: int = Field(description="How many values were given.")


class ConversionResult(BaseModel):
    result: float = Field(description="The value expressed in the target unit (15 significant digits).")
    from_unit: str = Field(description="Symbol of the source unit.")
    to_unit: str = Field(description="Symbol of the target unit.")
    category: Category = Field(description="The quantity converted.")
    expression: str = Field(description="The conversion, written out.")


class UnitInfo(BaseModel):
    symbol: str = Field(description="The symbol to pass to convert_units, e.g. 'km'.")
    name: str = Field(description="The unit's full name.")
    category: Category = Field(description="The quantity it measures.")


class UnitList(BaseModel):
    units: list[UnitInfo] = Field(description="Supported units, grouped by category.")
    unit_symbols: list[str] = Field(description="The same units' symbols, in the same order.")


class StoredResult(BaseModel):
    variable_name: str = Field(description="Name of the variable written.")
    value: float = Field(description="The value now stored.")
    previous_value: float | None = Field(description="The value it replaced, or null for a new variable.")
    variables_used: int = Field(description="Variables in memory after the call.")
    max_variables: int = Field(description="How many variables the memory can hold.")


class VariableList(BaseModel):
    variables: list[Variable] = Field(description="Stored variables, sorted by name.")
    variable_names: list[str] = Field(description="The same variables' names, in the same order.")
    max_variables: int = Field(description="How many variables the memory can hold.")


class ClearedResult(BaseModel):
    variable_name: str = Field(description="Name of the variable removed.")
    value: float = Field(description="The value it held.")


class ClearedAllResult(BaseModel):
    cleared: list[str] = Field(description="Names of the variables removed, sorted.")
    kept_protected: list[str] = Field(description="Protected constants that were kept, sorted.")


A = Annotated[float, Field(description="The first operand.")]
B = Annotated[float, Field(description="The second operand.")]
Operand = Annotated[float, Field(description="The number to operate on.")]
Numbers = Annotated[
    list[float], Field(description="The numbers to summarise, e.g. [4, 8, 15, 16, 23, 42].", min_length=1)
]
VariableName = Annotated[
    str, Field(description="Name of a stored variable (case-sensitive), e.g. 'principal'.", pattern=_NAME_PATTERN)
]
BINARY = {"consumes": {"a": "number", "b": "number"}, "produces": {"result": "number"}}
UNARY = {"consumes": {"number": "number"}, "produces": {"result": "number"}}
STATS = {"consumes": {"numbers": "number"}, "produces": {"result": "number"}}


class Math(Environment):
    name = "math"
    description = (
        "A scientific calculator: arithmetic, statistics, unit conversion and rounding, "
        "plus a memory of named variables to store and recall results."
    )
    state_model = MathState
    state: MathState

    @tool(
        names={"result": "the sum of {a} and {b}"},
        read_only=True,
        **BINARY,
        asks=[
            "What is {a} plus {b}?",
            "Can you work out {a} + {b} for me?",
            "I need the sum of {a} and {b}.",
            "Take {a} and increase it by {b}. What do I get?",
            "Quick one, how much are {a} and {b} together?",
            "(What's|What is|How much is) {a} plus {b}( altogether|)?",
            "Sum {a} and {b}( together| for me| up|).",
            "(Give me|Tell me) the (sum|total) of {a} and {b}( please|).",
            "If I (have|start with) {a} and (get|put in) {b} more, (what's|how much is) the total?",
        ],
        answers=[
            "{@a} plus {@b} is {result}.",
            "That comes to {result} ({expression}).",
        ],
    )
    def add(self, a: A, b: B) -> NumberResult:
        """Add two numbers: a + b."""
        return _number(a + b, f"{_fmt(a)} + {_fmt(b)}")

    @tool(
        names={"result": "{a} minus {b}"},
        read_only=True,
        **BINARY,
        asks=[
            "What is {a} minus {b}?",
            "Take {b} away from {a}. What's left?",
            "Can you tell me what {a} - {b} comes to?",
            "I need the difference between {a} and {b}, the first minus the second.",
            "How much is left if I take {b} from {a}?",
            "(What's|What is|How much is) {a} (minus|less) {b}?",
            "Take {b} (away |)from {a}( for me| please|).",
            "(Give me|Tell me) what's left (after|when) (taking|removing) {b} from {a}.",
            "If I (start with|have) {a} and (spend|lose|use up) {b}, how much (is left|remains)?",
        ],
        answers=[
            "{@a} minus {@b} is {result}.",
            "That leaves {result} ({expression}).",
        ],
    )
    def subtract(self, a: A, b: B) -> NumberResult:
        """Subtract the second number from the first: a - b."""
        return _number(a - b, f"{_fmt(a)} - {_fmt(b)}")

    @tool(
        names={"result": "the product of {a} and {b}"},
        read_only=True,
        **BINARY,
        asks=[
            "What is {a} times {b}?",
            "Could you do {a} × {b} for me?",
            "I need the product of {a} and {b}.",
            "How much is {a} multiplied by {b}?",
            "Scale {a} by a factor of {b} for me.",
        ],
        answers=[
            "{@a} times {@b} is {result}.",
            "The product is {result} ({expression}).",
        ],
    )
    def multiply(self, a: A, b: B) -> NumberResult:
        """Multiply two numbers: a * b. Fails if the product is too large to represent."""
        return _number(a * b, f"{_fmt(a)} * {_fmt(b)}")

    @tool(
        names={"result": "{a} divided by {b}"},
        read_only=True,
        **BINARY,
        asks=[
            "What's {a} over {b}?",
            "What does {a} / {b} come to?",
            "Give me the ratio of {a} to {b}.",
            "How many times does {b} go into {a}?",
            "I need {a} ÷ {b}.",
        ],
        answers=[
            "{@a} over {@b} is {result}.",
            "The quotient is {result} ({expression}).",
        ],
    )
    def divide(
        self,
        a: Annotated[float, Field(description="The dividend.")],
        b: Annotated[float, Field(description="The divisor; must not be 0.")],
    ) -> NumberResult:
        """Divide a by b: a / b. Fails on division by zero."""
        if b == 0:
            raise InvalidArgument(f"cannot divide {_fmt(a)} by zero; pass a non-zero divisor")
        return _number(a / b, f"{_fmt(a)} / {_fmt(b)}")

    @tool(
        names={"result": "{base} to the power of {exponent}"},
        read_only=True,
        consumes={"base": "number", "exponent": "number"},
        produces={"result": "number"},
        asks=[
            "What is {base} raised to the exponent {exponent}?",
            "What's {base}^{exponent}?",
            "I need {base} to the exponent {exponent}.",
            "Raise {base} to {exponent} for me.",
            "How big is {base} with an exponent of {exponent}?",
        ],
        answers=[
            "{@base} raised to {@exponent} is {result}.",
            "That's {result} ({expression}).",
        ],
    )
    def power(
        self,
        base: Annotated[float, Field(description="The base.")],
        exponent: Annotated[float, Field(description="The exponent; may be negative or fractional.")],
    ) -> NumberResult:
        """Raise base to exponent: base ^ exponent.

        Fails for 0 raised to a negative power, a negative base with a fractional exponent
        (the result would be complex) and results too large to represent.
        """
        if base == 0 and exponent < 0:
            raise InvalidArgument("0 cannot be raised to a negative power (it would divide by zero)")
        if base < 0 and not float(exponent).is_integer():
            raise InvalidArgument(f"{_fmt(base)} ^ {_fmt(exponent)} is not a real number; use an integer exponent")
        try:
            value = math.pow(base, exponent)
        except OverflowError:
            raise InvalidArgument(f"{_fmt(base)} ^ {_fmt(exponent)} is too large to represent") from None
        shown = f"({_fmt(base)})" if base < 0 else _fmt(base)
        return _number(value, f"{shown} ^ {_fmt(exponent)}")

    @tool(
        names={"result": "the square root of {number}"},
        read_only=True,
        **UNARY,
        asks=[
            "What's the square root of {number}?",
            "Could you get me √{number}?",
            "I need the square root of {number}.",
            "Which positive number squared gives {number}?",
            "Take the square root of {number}.",
            "(What's|What is|How much is) the square root of {number}?",
            "(Find|Get) (me |)the square root of {number}( please|).",
            "(Give me|Tell me) the square root of {number}( please|).",
            "(What|Which) number (times|multiplied by) itself (gives|makes|equals) {number}?",
        ],
        answers=[
            "The square root of {@number} is {result}.",
            "That's {result} ({expression}).",
        ],
    )
    def square_root(
        self, number: Annotated[float, Field(description="The number to take the root of; must not be negative.")]
    ) -> NumberResult:
        """Return the principal square root of a number. Fails for negative numbers."""
        if number < 0:
            raise InvalidArgument(f"the square root of {_fmt(number)} is not a real number; pass a number >= 0")
        return _number(math.sqrt(number), f"sqrt({_fmt(number)})")

    @tool(  # the number is the user's: a result the walk made is nearly always positive, and |x| = x asks nothing
        names={"result": "the absolute value of {number}"},
        read_only=True,
        produces=UNARY["produces"],
        asks=[
            "What's the absolute value of {number}?",
            "How far is {number} from zero?",
            "I need {number} without its sign.",
            "Can you give me |{number}|?",
            "Drop the minus sign from {number}, if it has one.",
            "(What's|What is) the (absolute value|magnitude) of {number}?",
            "(Give me|Tell me) {number} (without its sign|as a positive number|ignoring the sign).",
            "How far (is|lies) {number} from zero( on the number line|)?",
            "(Make|Turn) {number} positive( if it isn't already| if it's negative|)( for me|).",
        ],
        answers=[
            "The absolute value of {@number} is {result}.",
            "Without its sign it is {result}.",
        ],
    )
    def absolute_value(self, number: Operand) -> NumberResult:
        """Return the absolute value of a number: |number|."""
        return _number(abs(number), f"|{_fmt(number)}|")

    @tool(
        names={
            "quotient": "how many whole times {divisor} goes into {dividend}",
            "remainder": "the remainder of {dividend} divided by {divisor}",
        },
        read_only=True,
        consumes={"dividend": "number", "divisor": "number"},
        produces={"quotient": "number", "remainder": "number"},
        asks=[
            "What's {dividend} mod {divisor}?",
            "What's the remainder when {divisor} goes into {dividend}?",
            "How many whole times does {divisor} fit into {dividend}, and what's left over?",
            "I need the quotient and remainder of {dividend} by {divisor}.",
            "Can you divide {dividend} by {divisor} with remainder for me?",
        ],
        answers=[
            "{@divisor} goes into {@dividend} {quotient} times with {remainder} left over.",
            "The quotient is {quotient} and the remainder {remainder} ({expression}).",
        ],
    )
    def modulo(
        self,
        dividend: Annotated[float, Field(description="The number to divide.")],
        divisor: Annotated[float, Field(description="The number to divide by; must not be 0.")],
    ) -> DivisionResult:
        """Integer division with remainder: the floor quotient and dividend mod divisor. Fails on a zero divisor."""
        if divisor == 0:
            raise InvalidArgument(f"cannot take {_fmt(dividend)} modulo zero; pass a non-zero divisor")
        quotient, remainder = divmod(dividend, divisor)
        return DivisionResult(
            quotient=_clean(quotient),
            remainder=_clean(remainder),
            expression=f"{_fmt(dividend)} = {_fmt(divisor)} * {_fmt(quotient)} + {_fmt(_clean(remainder))}",
        )

    @tool(
        names={"result": "the logarithm of {number}[ to base {base}]"},
        read_only=True,
        **UNARY,
        asks=[
            "What's the log of {number}[ to base {base}]?",
            "Could you calculate the[ base-{base}] log of {number}?",
            "I need the log of {number}[, base {base}].",
            "Log of {number}[ in base {base}], please.",
            "How much is log {number}[ with base {base}]?",
        ],
        answers=[
            "The log[ base {@base}] of {@number} is {result}.",
            "It works out to {result} ({expression}).",
        ],
    )
    def logarithm(
        self,
        number: Annotated[float, Field(description="The number to take the logarithm of; must be > 0.")],
        base: Annotated[
            float | None, Field(description="The base, > 0 and not 1, e.g. 10 or 2; omit for the natural log (base e).")
        ] = None,
    ) -> NumberResult:
        """Return the logarithm of a number in a given base (natural logarithm when no base is given).

        Fails for a number <= 0 and for a base <= 0 or equal to 1.
        """
        if number <= 0:
            raise InvalidArgument(f"the logarithm of {_fmt(number)} is undefined; pass a number > 0")
        if base is None:
            return _number(math.log(number), f"ln({_fmt(number)})")
        if base <= 0 or base == 1:
            raise InvalidArgument(f"{_fmt(base)} is not a valid logarithm base; use a base > 0 other than 1")
        return _number(math.log(number) / math.log(base), f"log_{_fmt(base)}({_fmt(number)})")

    @tool(
        names={"result": "the factorial of {n}"},
        read_only=True,
        consumes={"n": "number"},
        produces={"result": "number"},
        asks=[
            "What's {n}!?",
            "Can you calculate {n}! for me?",
            "I need the product of all the whole numbers from 1 up to {n}.",
            "In how many different orders can {n} distinct items be arranged?",
            "Work out 1 × 2 × 3 and so on, all the way up to {n}.",
        ],
        answers=[
            "{@n}! is {result}.",
            "The product of the whole numbers 1 through {@n} is {result}.",
        ],
    )
    def factorial(
        self, n: Annotated[int, Field(description=f"A whole number from 0 to {MAX_FACTORIAL}.", ge=0, le=MAX_FACTORIAL)]
    ) -> NumberResult:
        """Return n! = 1 * 2 * ... * n. Only defined for whole numbers 0..170 (171! exceeds the number range)."""
        if n < 0:
            raise InvalidArgument(f"the factorial of a negative number ({n}) is undefined")
        if n > MAX_FACTORIAL:
            raise InvalidArgument(f"{n}! is too large to represent; the largest supported n is {MAX_FACTORIAL}")
        return _number(float(math.factorial(n)), f"{n}!")

    @tool(
        names={"result": "the total of {numbers}"},
        read_only=True,
        **STATS,
        asks=[
            "What's the total of {numbers}?",
            "Sum up {numbers} for me.",
            "Can you total up {numbers}?",
            "I need the sum of {numbers}.",
            "How much do {numbers} come to all together?",
        ],
        answers=[
            "They total {result}.",
            "The sum of those {@numbers#} numbers is {result}.",
        ],
    )
    def sum_numbers(self, numbers: Numbers) -> NumberResult:
        """Return the sum of a list of numbers. Fails on an empty list."""
        return _number(math.fsum(_values(numbers)), f"sum of {len(numbers)} values")

    @tool(
        names={"result": "the average of {numbers}"},
        read_only=True,
        **STATS,
        asks=[
            "What's the average of {numbers}?",
            "Can you get me the mean of {numbers}?",
            "I need the mean of the numbers {numbers}.",
            "Average out {numbers} for me.",
            "On average, what do {numbers} come to?",
        ],
        answers=[
            "The average is {result}.",
            "The mean of those {@numbers#} numbers is {result}.",
        ],
    )
    def calculate_mean(self, numbers: Numbers) -> NumberResult:
        """Return the arithmetic mean (average) of a list of numbers. Fails on an empty list."""
        return _number(statistics.fmean(_values(numbers)), f"mean of {len(numbers)} values")

    @tool(
        names={"result": "the median of {numbers}"},
        read_only=True,
        **STATS,
        asks=[
            "What's the median of {numbers}?",
            "Which value sits in the middle of {numbers}?",
            "Can you get me the median for {numbers}?",
            "I need the middle value of {numbers}.",
            "Put {numbers} in order and tell me the median.",
        ],
        answers=[
            "The median is {result}.",
            "The middle value of those {@numbers#} numbers is {result}.",
        ],
    )
    def calculate_median(self, numbers: Numbers) -> NumberResult:
        """Return the median (middle value; mean of the two middle ones for an even count). Fails on an empty list."""
        return _number(statistics.median(_values(numbers)), f"median of {len(numbers)} values")

    @tool(
        names={"result": "the standard deviation of {numbers}"},
        read_only=True,
        **STATS,
        asks=[
            "What's the[ {sample?sample|population}] standard deviation of {numbers}?",
            "How spread out are {numbers}? Give me the standard deviation[{sample?, treating them as a sample|}].",
            "Can you compute the standard deviation of {numbers}[{sample? for a sample| for the whole population}]?",
            "I need the[ {sample?sample|population}] SD of {numbers}.",
            "Standard deviation of {numbers}[, {sample?sample|population} version], please.",
        ],
        answers=[
            "The[ {@sample?sample|population}] standard deviation is {result}.",
            "Those {@numbers#} numbers have a[ {@sample?sample|population}] standard deviation of {result}.",
        ],
    )
    def calculate_standard_deviation(
        self,
        numbers: Numbers,
        sample: Annotated[
            bool, Field(description="True for the sample standard deviation (n - 1), false for the population one (n).")
        ] = False,
    ) -> NumberResult:
        """Return the standard deviation of a list of numbers. The sample version needs at least two numbers."""
        values = _values(numbers)
        if sample and len(values) < 2:
            raise InvalidArgument("the sample standard deviation needs at least two numbers")
        value = statistics.stdev(values) if sample else statistics.pstdev(values)
        return _number(value, f"{'sample' if sample else 'population'} standard deviation of {len(values)} values")

    @tool(
        names={"minimum": "the smallest of {numbers}", "maximum": "the largest of {numbers}"},
        read_only=True,
        consumes={"numbers": "number"},
        produces={"minimum": "number", "maximum": "number"},
        asks=[
            "What are the smallest and largest of {numbers}?",
            "Give me the min and max of {numbers}.",
            "Can you tell me the range of {numbers}, from lowest to highest?",
            "I need the highest and lowest values among {numbers}.",
            "Which is biggest and which is smallest out of {numbers}?",
        ],
        answers=[
            "The smallest is {minimum} and the largest {maximum}, a range of {range}.",
            "Of the {count} numbers, the lowest is {minimum} and the highest is {maximum}.",
        ],
    )
    def find_min_max(self, numbers: Numbers) -> MinMaxResult:
        """Return the smallest and largest value of a list of numbers and their range. Fails on an empty list."""
        values = _values(numbers)
        low, high = min(values), max(values)
        return MinMaxResult(minimum=low, maximum=high, range=_clean(high - low), count=len(values))

    @tool(
        names={"result": "percentile {percentile} of {numbers}"},
        read_only=True,
        **STATS,
        asks=[
            "What's percentile {percentile} of {numbers}?",
            "Of the numbers {numbers}, below what value do {percentile}% fall?",
            "Could you tell me the value at percentile {percentile} for {numbers}?",
            "I need percentile {percentile} of {numbers}.",
            "Where does the {percentile}% mark fall in {numbers}?",
        ],
        answers=[
            "Percentile {@percentile} of those numbers is {result}.",
            "About {@percentile}% of the values lie at or below {result}.",
        ],
    )
    def calculate_percentile(
        self,
        numbers: Numbers,
        percentile: Annotated[float, Field(description="Which percentile, 0 to 100 (50 is the median).", ge=0, le=100)],
    ) -> NumberResult:
        """Return a percentile of a list of numbers, interpolating linearly between ranks. Fails on an empty list."""
        values = sorted(_values(numbers))
        if not 0 <= percentile <= 100:
            raise InvalidArgument(f"percentile must be between 0 and 100, not {_fmt(percentile)}")
        rank = (len(values) - 1) * percentile / 100
        low = math.floor(rank)
        high = min(low + 1, len(values) - 1)
        value = values[low] + (values[high] - values[low]) * (rank - low)
        return _number(value, f"{_fmt(percentile)}th percentile of {len(values)} values")

    @tool(
        names={"result": "{value} {from_unit} in {to_unit}"},
        read_only=True,
        consumes={"value": "number", "from_unit": "unit", "to_unit": "unit"},
        produces={"result": "number"},
        asks=[
            "Convert {value} {from_unit} to {to_unit}.",
            "How many {to_unit} is {value} {from_unit}?",
            "What's {value} {from_unit} in {to_unit}?",
            "I need {value} {from_unit} expressed in {to_unit}.",
            "Can you change {value} {from_unit} into {to_unit} for me?",
        ],
        answers=[
            "{@value} {from_unit} is {result} {to_unit}.",
            "That's {expression}.",
        ],
    )
    def convert_units(
        self,
        value: Annotated[float, Field(description="The amount to convert.")],
        from_unit: Annotated[
            str, Field(description="Unit the value is in, e.g. 'mi', 'lb', 'F', 'gal' (see list_units).")
        ],
        to_unit: Annotated[
            str, Field(description="Unit to convert to, of the same quantity, e.g. 'km', 'kg', 'C', 'l'.")
        ],
    ) -> ConversionResult:
        """Convert a length, mass, temperature or volume between units (US customary volumes).

        Fails for an unknown unit, for units of different quantities (e.g. kg to m) and for a
        temperature below absolute zero.
        """
        source, target = _unit(from_unit), _unit(to_unit)
        category, factor, _ = _UNITS[source]
        if _UNITS[target][0] != category:
            raise InvalidArgument(f"cannot convert {category} ({source}) to {_UNITS[target][0]} ({target})")
        if category == "temperature":
            kelvin = {"C": value + 273.15, "F": (value - 32) * 5 / 9 + 273.15, "K": value}[source]
            if kelvin < 0:
                raise InvalidArgument(f"{_fmt(value)} {source} is below absolute zero")
            result = {"C": kelvin - 273.15, "F": (kelvin - 273.15) * 9 / 5 + 32, "K": kelvin}[target]
        else:
            result = value * factor / _UNITS[target][1]  # type: ignore[operator]
        converted = _clean(result)
        return ConversionResult(
            result=converted,
            from_unit=source,
            to_unit=target,
            category=category,
            expression=f"{_fmt(value)} {source} = {_fmt(converted)} {target}",
        )

    @tool(
        read_only=True,
        produces={"unit_symbols": "unit"},
        asks=[
            "Which[ {category}] units can you convert between?",
            "What[ {category}] units do you support?",
            "Show me the list of[ {category}] units you know.",
            "I need to know which[ {category}] units I can use for conversions.",
            "Can you list the units you understand[ for {category}]?",
        ],
        answers=[
            "I can convert {units#}[ {@category}] units: {unit_symbols}.",
            "There are {units#} supported[ {@category}] units ({unit_symbols}).",
        ],
    )
    def list_units(
        self,
        category: Annotated[Category | None, Field(description="Only units of this quantity; omit for all.")] = None,
    ) -> UnitList:
        """List the units convert_units understands, with their symbols and names."""
        units = [
            UnitInfo(symbol=symbol, name=name, category=kind)
            for symbol, (kind, _, name) in _UNITS.items()
            if category is None or kind == category
        ]
        return UnitList(units=units, unit_symbols=[unit.symbol for unit in units])

    @tool(
        names={"result": "{number} rounded[ to {decimals} decimal places]"},
        read_only=True,
        **UNARY,
        asks=[
            "Round {number}[ to {decimals} d.p.] for me.",
            "What's {number} rounded[ to precision {decimals}]?",
            "Can you round off {number}[ at {decimals} d.p.]?",
            "I need {number} rounded[, precision {decimals}].",
            "Tidy up {number} by rounding it[ to {decimals} d.p.], please.",
        ],
        answers=[
            "{@number} rounds to {result}.",
            "Rounded, that's {result}.",
        ],
    )
    def round_number(
        self,
        number: Annotated[float, Field(description="The number to round.")],
        decimals: Annotated[
            int,
            Field(description="Digits after the decimal point; negative rounds to tens, hundreds, ...", ge=-10, le=15),
        ] = 0,
    ) -> NumberResult:
        """Round a number to a number of decimal places, halves away from zero (2.5 -> 3, -2.5 -> -3)."""
        if not -10 <= decimals <= 15:
            raise InvalidArgument(f"decimals must be between -10 and 15, not {decimals}")
        exponent = Decimal(1).scaleb(-decimals)
        rounded = Decimal(repr(number)).quantize(exponent, rounding=ROUND_HALF_UP, context=Context(prec=400))
        return _number(float(rounded), f"round({_fmt(number)}, {decimals})")

    @tool(
        names={"result": "{part} as a percentage of {whole}"},
        read_only=True,
        consumes={"part": "number", "whole": "number"},
        produces={"result": "number"},
        asks=[
            "What percentage of {whole} is {part}?",
            "{part} out of {whole} is what percent?",
            "Can you tell me what percent {part} is of {whole}?",
            "I need {part} as a share of {whole}, in percent.",
            "Express {part} as a percentage of {whole}.",
        ],
        answers=[
            "{@part} is {result}% of {@whole}.",
            "That's {result} percent.",
        ],
    )
    def calculate_percentage(
        self,
        part: Annotated[float, Field(description="The part, e.g. 45 in '45 out of 60'.")],
        whole: Annotated[float, Field(description="The whole it is a part of; must not be 0.")],
    ) -> NumberResult:
        """Return what percentage part is of whole: part / whole * 100. Fails when whole is 0."""
        if whole == 0:
            raise InvalidArgument("cannot take a percentage of a whole of 0")
        return _number(part / whole * 100, f"{_fmt(part)} / {_fmt(whole)} * 100")

    @tool(
        names={"result": "the percent change from {old_value} to {new_value}"},
        read_only=True,
        consumes={"old_value": "number", "new_value": "number"},
        produces={"result": "number"},
        asks=[
            "What's the percent change from {old_value} to {new_value}?",
            "It went from {old_value} to {new_value}. By what percentage did it change?",
            "How much did it grow or shrink, in percent, going from {old_value} to {new_value}?",
            "Can you work out the percentage change between {old_value} and {new_value}?",
            "I need to know the percentage change if {old_value} becomes {new_value}.",
        ],
        answers=[
            "Going from {@old_value} to {@new_value} is a change of {result}%.",
            "The change is {result} percent.",
        ],
    )
    def calculate_percent_change(
        self,
        old_value: Annotated[float, Field(description="The starting value; must not be 0.")],
        new_value: Annotated[float, Field(description="The final value.")],
    ) -> NumberResult:
        """Return the percent change from old_value to new_value (negative for a decrease); old_value must not be 0."""
        if old_value == 0:
            raise InvalidArgument("the percent change from 0 is undefined; pass a non-zero old_value")
        change = (new_value - old_value) / abs(old_value) * 100
        return _number(change, f"({_fmt(new_value)} - {_fmt(old_value)}) / |{_fmt(old_value)}| * 100")

    @tool(
        consumes={"value": "number"},
        produces={"variable_name": "variable_name"},
        asks=[
            'Store {value}[ {unit}] as {variable_name}[, described as "{description}"].',
            'Save {value}[ {unit}] under the name {variable_name}[ with the note "{description}"].',
            'Can you remember {value}[ {unit}] as {variable_name} for me[ ("{description}")]?',
            'I want {variable_name} set to {value}[ {unit}][, labelled "{description}"].',
            'Put {value}[ {unit}] into memory as {variable_name}[ and note it as "{description}"].',
        ],
        answers=[
            "Saved: {variable_name} now holds {value}[ {@unit}][ (it was {previous_value})].",
            "I stored {value}[ {@unit}] as {variable_name}; {variables_used} of {max_variables} slots are now in use.",
        ],
    )
    def store_variable(
        self,
        variable_name: Annotated[
            str,
            Field(description="Name to store under: a letter or '_' then letters, digits, '_'.", pattern=_NAME_PATTERN),
        ],
        value: Annotated[float, Field(description="The number to store.")],
        unit: Annotated[str | None, Field(description="Unit of the value, e.g. 'USD' or 'm/s'.")] = None,
        description: Annotated[str | None, Field(description="What the value stands for.")] = None,
    ) -> StoredResult:
        """Store a number in memory under a name, replacing the variable's old value if it exists.

        Fails for an invalid name, for a protected constant, and when memory is full (clear a variable first).
        """
        if not re.match(_NAME_PATTERN, variable_name):
            raise InvalidArgument(f"{variable_name!r} is not a valid name: start with a letter or '_', max 32 chars")
        if not math.isfinite(value):
            raise InvalidArgument("only finite numbers can be stored")
        old = self.state.variables.get(variable_name)
        if old is not None and old.protected:
            raise PreconditionFailed(f"{variable_name!r} is a protected constant; store under another name")
        if old is None and len(self.state.variables) >= self.state.max_variables:
            raise PreconditionFailed(
                f"memory is full ({self.state.max_variables} variables); clear_variable one before storing a new one"
            )
        self.state.variables[variable_name] = Variable(
            variable_name=variable_name, value=value, unit=unit, description=description
        )
        return StoredResult(
            variable_name=variable_name,
            value=value,
            previous_value=None if old is None else old.value,
            variables_used=len(self.state.variables),
            max_variables=self.state.max_variables,
        )

    @tool(
        names={"value": "the value stored as {variable_name}"},
        read_only=True,
        consumes={"variable_name": "variable_name"},
        produces={"value": "number"},
        asks=[
            "What's the value of {variable_name}?",
            "What did I store as {variable_name}?",
            "Can you recall {variable_name} for me?",
            "I need the number saved under {variable_name}.",
            "Look up {variable_name} in memory.",
        ],
        answers=[
            "The value of {variable_name} is {value}[ {unit}].",
            "You stored {value}[ {unit}] as {variable_name}[ ({description})].",
        ],
    )
    def recall_variable(self, variable_name: VariableName) -> Variable:
        """Read a stored variable: its value, unit and description."""
        return self._variable(variable_name)

    @tool(
        read_only=True,
        produces={"variable_names": "variable_name"},
        asks=[
            "What variables do I have stored?",
            "Show me everything in my calculator's memory.",
            "Can you list my saved variables?",
            "I need to see which values I've stored so far.",
            "What's in memory right now?",
        ],
        answers=[
            "Your memory holds {variables#} of at most {max_variables} variables: {variable_names}.",
            "In memory: {variable_names} ({variables#} of {max_variables} slots used).",
        ],
    )
    def list_variables(self) -> VariableList:
        """List every variable in memory, protected constants included."""
        variables = [self.state.variables[name] for name in sorted(self.state.variables)]
        return VariableList(
            variables=variables,
            variable_names=[v.variable_name for v in variables],
            max_variables=self.state.max_variables,
        )

    @tool(
        consumes={"variable_name": "variable_name"},
        asks=[
            "Delete {variable_name} from memory.",
            "Clear the variable {variable_name}.",
            "Can you forget {variable_name}? I don't need it anymore.",
            "I want {variable_name} removed from my stored values.",
            "Get rid of {variable_name}, please.",
        ],
        answers=[
            "Cleared {variable_name} from memory; it held {value}.",
            "I removed {variable_name}, which was {value}.",
        ],
    )
    def clear_variable(self, variable_name: VariableName) -> ClearedResult:
        """Remove a variable from memory, freeing its slot. Protected constants cannot be cleared."""
        variable = self._variable(variable_name)
        if variable.protected:
            raise PreconditionFailed(f"{variable_name!r} is a protected constant and cannot be cleared")
        del self.state.variables[variable_name]
        return ClearedResult(variable_name=variable_name, value=variable.value)

    @tool(
        asks=[
            "Clear my calculator's memory.",
            "Wipe all my stored variables.",
            "Can you delete every variable I've saved?",
            "I want to start fresh, so forget all the values in memory.",
            "Reset the memory, please.",
            "(Clear|Wipe|Reset) (the|my calculator's|the calculator's) memory( for me| now| completely|).",
            "(Delete|Erase|Remove) (all|every one of) (my|the) (saved|stored) (values|variables|numbers)( for "
            "me| now|).",
            "(Can|Could) you (wipe|clear|empty) (everything|all the values|all the numbers) (I've saved|I stored|in "
            "the memory)?",
            "I('d like| want) (a clean slate|to start over|a fresh start), so (clear|wipe) (everything|all) (I've "
            "stored|in memory).",
            "None of my (stored|saved) (values|variables|numbers) (are needed|matter) (anymore|now), so (clear|wipe) "
            "them (all|out).",
            "(Let's|Let us) start (over|from scratch|fresh) with an empty memory.",
        ],
        answers=[
            "Memory cleared. Variables removed: {cleared}. Protected constants kept: {kept_protected}.",
            "Your memory is now empty apart from protected constants: {kept_protected}.",
        ],
    )
    def clear_all_variables(self) -> ClearedAllResult:
        """Remove every variable from memory except protected constants."""
        cleared = sorted(name for name, v in self.state.variables.items() if not v.protected)
        for name in cleared:
            del self.state.variables[name]
        return ClearedAllResult(cleared=cleared, kept_protected=sorted(self.state.variables))

    def _variable(self, variable_name: str) -> Variable:
        variable = self.state.variables.get(variable_name)
        if variable is None:
            known = ", ".join(sorted(self.state.variables)) or "none"
            raise NotFound(f"no variable named {variable_name!r} (stored: {known}); names are case-sensitive")
        return variable


def _values(numbers: Iterable[float]) -> list[float]:
    values = [float(number) for number in numbers]
    if not values:
        raise InvalidArgument("the list of numbers is empty; pass at least one number")
    if not all(math.isfinite(value) for value in values):
        raise InvalidArgument("the list holds a value that is not a finite number")
    return values


def _clean(value: float) -> float:
    """The value to 15 significant digits, which drops float noise such as 0.1 + 0.2 = 0.30000000000000004."""
    if not math.isfinite(value):
        raise InvalidArgument("the result is too large to represent; use smaller numbers")
    return float(f"{value:.15g}") + 0.0


def _number(value: float, expression: str) -> NumberResult:
    value = _clean(value)
    return NumberResult(result=value, expression=f"{expression} = {_fmt(value)}")


def _fmt(value: float) -> str:
    if float(value).is_integer() and abs(value) < 1e16:
        return str(int(value))
    return repr(float(value))


def _unit(text: str) -> str:
    """The symbol of a unit given by symbol, name or plural name, case-insensitive ('Miles' -> 'mi')."""
    wanted = text.strip().lower()
    for symbol, (_, _, name) in _UNITS.items():
        names = {name.lower(), name.lower().removeprefix("us ")}
        names |= {form.replace("metre", "meter").replace("litre", "liter") for form in names}
        if wanted == symbol.lower() or wanted in names | {f"{form}s" for form in names}:
            return symbol
    if wanted in _UNIT_ALIASES:
        return _UNIT_ALIASES[wanted]
    raise NotFound(f"unknown unit {text!r}; call list_units to see the supported ones")
