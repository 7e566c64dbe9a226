"""Recorded sessions are input too: a session any client drove synthesizes into a verified sample."""

import anyio
from mcp import Client, StdioServerParameters

from simulator import Store
from synthesizer.offline import OfflineBackend
from synthesizer.plan import Variants
from synthesizer.samples import SampleStore
from synthesizer.synthesize import SynthesisConfig, synthesize
from tests.conftest import FUNREASON


def recorded(db):
    with Store(db) as store:
        return list(store.iter_trajectories())


def test_a_recorded_session_becomes_a_verified_sample(tmp_path):
    db = tmp_path / "calls.db"

    async def session() -> None:
        args = ["serve", "messaging", "--transport", "stdio", "--record", str(db)]
        async with Client(StdioServerParameters(command=FUNREASON, args=args)) as client:
            await client.call_tool("log_in", {"user_id": "USR001"})
            await client.call_tool("add_contact", {"user_name": "Eve"})
            await client.call_tool("send_message", {"receiver_id": "USR005", "message": "Welcome aboard!"})

    anyio.run(session)
    [trajectory] = recorded(db)
    assert trajectory.steps[2].provenance["receiver_id"] == {
        "source": "result",
        "step": 1,
        "tool": "add_contact",
        "field": "user_id",
    }
    counts = synthesize(db, SynthesisConfig(turns=(2, 3), variants=Variants(0, 0, 0)), OfflineBackend())
    assert counts == {"samples": 1, "verified": 1, "rejected": 0, "pending": 0}
    with Store(db) as store:
        [sample] = list(SampleStore(store).iter_samples())
    assert "USR005" not in " ".join(turn.request for turn in sample.dialogue.turns)  # taken from a result: implicit
