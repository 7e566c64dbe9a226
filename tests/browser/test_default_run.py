"""A default `funreason run` (eight environments, hundreds of samples and rejects): every one reachable."""

import pytest

from tests.browser.reading import every_one_reachable
from tests.conftest import funreason


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("default-run")
    outcome = funreason("run", "--out", str(out))
    assert outcome.returncode == 0, outcome.stderr
    return out


@pytest.mark.heavy
def test_every_sample_and_reject_of_a_default_run_is_reachable(default_run, watched):
    every_one_reachable(default_run, watched)
