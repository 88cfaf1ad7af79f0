"""Recording a build and replaying a weight's calls (initcheck.models.torch_record,
torch_replay) hold what the build held, no more: a temporary is freed after its last use,
so a weight drawn by a rejection loop (torch's own ``trunc_normal_``) costs its build's
memory and time, not every temporary of every pass kept to the end (BLT's 192 M-value
embedding: 8.1 GB peak and 3x its floor; issue 31)."""

from __future__ import annotations

import dataclasses
import weakref

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from initcheck.models.torch_record import recorded, tape_of  # noqa: E402
from initcheck.models.torch_replay import replay_ways  # noqa: E402

PASSES = 8


class Rejecting(nn.Module):
    """A weight drawn by redrawing the values beyond 2σ, ``PASSES`` times, written out
    in tensor calls (each pass: four new tensors the next pass no longer reads)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(32, 32))
        with torch.no_grad():
            w = torch.randn(32, 32)
            for _ in range(PASSES):
                w = torch.where(w.abs() > 2, torch.randn(32, 32), w)
            self.weight.copy_(w)


def test_a_recorded_build_frees_its_temporaries_as_it_goes() -> None:
    freed: list[bool] = []

    def factory() -> nn.Module:
        model = nn.Linear(8, 8)
        temporary = torch.randn(1000)
        model.weight.data.add_(temporary[:64].view(8, 8) * 0)
        gone = weakref.ref(temporary.untyped_storage())
        del temporary
        freed.append(gone() is None)
        return model

    recorded(factory)
    assert freed == [True]


def test_a_replay_frees_each_temporary_after_its_last_use() -> None:
    model = recorded(Rejecting)
    tape = tape_of(model)
    assert tape is not None
    made: list[weakref.ref] = []
    live: list[int] = []

    def spy(func):  # counts the storages earlier calls made that are still alive
        def call(*args, **kwargs):
            live.append(sum(r() is not None for r in made))
            out = func(*args, **kwargs)
            if isinstance(out, torch.Tensor):
                made.append(weakref.ref(out.untyped_storage()))
            return out

        call.__name__ = getattr(func, "__name__", "call")
        return call

    tape.steps[:] = [dataclasses.replace(s, func=spy(s.func)) for s in tape.steps]
    _, draw, _ = replay_ways(model)["weight"]
    drawn = draw(5)
    assert drawn.shape == (32, 32) and float(drawn.abs().max()) <= 2
    assert len(live) > 4 * PASSES  # every pass replayed
    assert max(live) <= 5, live  # not one per call of every pass (held to the end: 4 * PASSES)
    assert draw(5).equal(drawn) and not draw(6).equal(drawn)  # still the seed's draw
