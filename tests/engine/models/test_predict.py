"""The one batched-prediction loop: batches, several outputs, progress, stop."""
import numpy as np
import pytest

from engine.core.errors import ConfigError
from engine.core.events import Progress
from engine.core.jobs import JobState, Stopped
from engine.models.predict import in_batches, predict, reconstruction_errors


class Doubler:
    def __init__(self):
        self.calls = []

    def __call__(self, x, training=False):
        self.calls.append((len(x), training))
        return x * 2


def test_predict_runs_in_batches_in_inference_mode():
    x = np.arange(10, dtype=np.float64).reshape(5, 2)
    model = Doubler()
    out = predict(model, x, batch_size=2)
    assert out.dtype == np.float32 and np.array_equal(out, x * 2)
    assert model.calls == [(2, False), (2, False), (1, False)]
    assert predict(model, np.zeros((0, 3))).shape == (0, 3)


def test_several_outputs_come_back_as_a_tuple_of_joined_arrays():
    x = np.arange(6, dtype=np.float32)[:, None]
    mean, log_var = in_batches(lambda b: (b + 1, b - 1), x, batch_size=4)
    assert mean[:, 0].tolist() == [1, 2, 3, 4, 5, 6] and log_var[:, 0].tolist() == [-1, 0, 1, 2, 3, 4]


def test_progress_after_each_batch_and_stop_between_batches():
    seen = []
    state = JobState(seen.append)
    in_batches(lambda b: b, np.zeros((5, 1)), batch_size=2, state=state, what="Scoring")
    assert seen == [Progress(2, 5, "Scoring"), Progress(4, 5, "Scoring"), Progress(5, 5, "Scoring")]

    def stop_after_first(event):
        state2.request_stop()

    state2 = JobState(stop_after_first)
    with pytest.raises(Stopped, match="Scoring was stopped"):
        in_batches(lambda b: b, np.zeros((5, 1)), batch_size=2, state=state2, what="Scoring")


def test_bad_batch_size_and_errors():
    with pytest.raises(ConfigError, match="at least 1"):
        in_batches(lambda b: b, np.zeros((2, 1)), batch_size=0)
    x = np.zeros((2, 2, 2, 1), np.float32)
    out = x.copy()
    out[1] = 1.0
    assert reconstruction_errors(x, out).tolist() == [0.0, 1.0]
