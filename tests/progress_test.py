"""Tests for zoo/progress.py: the log of long stretches of work."""

import logging
import time

import keras
import numpy as np
import pytest

from zoo import progress

EVERY = 0.05  # Seconds between two lines, for the tests.


@pytest.fixture
def log(caplog):
    with caplog.at_level(logging.INFO, logger="absl"):
        yield caplog


def _lines(log):
    return [r.getMessage() for r in log.records]


def test_a_short_stretch_logs_one_line(log):
    with progress.stretch("Fitting", every=10.0):
        pass
    assert _lines(log) == ["Fitting."]


def test_a_counted_stretch_says_how_far_and_how_long_is_left(log):
    with progress.stretch("Scoring", every=EVERY):
        for _ in range(4):
            time.sleep(2 * EVERY)
            progress.advance(total=10, unit="batches")
    lines = _lines(log)
    assert lines[0] == "Scoring."
    middle = lines[1:-1]
    assert middle, lines
    assert all(line.startswith("Scoring: ") and " of 10 batches, " in line
               and line.endswith(" s left.") for line in middle[1:]), lines
    assert lines[-1].startswith("Scoring: done in ")


def test_an_uncounted_stretch_still_says_it_is_working(log):
    with progress.stretch("Exporting", every=EVERY):
        time.sleep(3 * EVERY)
    assert any(line.startswith("Exporting: ") and line.endswith(" s so far.")
               for line in _lines(log)), _lines(log)


def test_a_failed_stretch_does_not_say_done(log):
    with pytest.raises(RuntimeError):
        with progress.stretch("Scoring", every=EVERY):
            time.sleep(2 * EVERY)
            raise RuntimeError("broken")
    assert not any("done" in line for line in _lines(log))
    assert not progress._open  # Closed all the same.


def test_only_the_innermost_stretch_reports(log):
    with progress.stretch("Outer", every=EVERY):
        with progress.stretch("Inner", every=EVERY):
            time.sleep(4 * EVERY)
        during = _lines(log)
        assert any(line.startswith("Inner: ") for line in during), during
        assert not any(line.startswith("Outer: ") for line in during), during
        log.clear()
        time.sleep(3 * EVERY)
    reports = [line for line in _lines(log) if "so far" in line]
    assert reports and all(line.startswith("Outer") for line in reports)


def test_advance_outside_every_stretch_does_nothing():
    progress.advance(3, total=5)  # No error, nothing kept.
    assert not progress._open


def test_the_report_counts_and_estimates():
    work = progress.Stretch("Decoding")
    work.start -= 10.0
    assert work.report() == "Decoding: 10 s so far"
    work.advance(250, total=1000, unit="sentences")
    assert work.report() == "Decoding: 250 of 1,000 sentences, 10 s, about 30 s left"
    work.advance(750)
    assert work.report() == "Decoding: 1,000 of 1,000 sentences, 10 s"


def test_the_counter_counts_the_batches_of_evaluate():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(loss="mse")
    with progress.stretch("Scoring", every=60.0) as work:
        model.evaluate(np.zeros((10, 2)), np.zeros((10, 1)), batch_size=3,
                       verbose=0, callbacks=[progress.Counter()])
    assert (work.count, work.total, work.unit) == (4, 4, "batches")
