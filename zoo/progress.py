"""Progress of long stretches of work, told in the log.

A run's stretches outside Keras' training bar (fitting vocabularies or a
baseline, scoring a split, decoding, exporting) each log a line when they
start, one every few seconds while they run, and their time when they end
if that took longer. Work that counts itself says how far it is and about
how long is left:

>>> with progress.stretch("Scoring the test split"):
...     for batch in batches:
...         score(batch)
...         progress.advance(total=400, unit="batches")

    Scoring the test split.
    Scoring the test split: 120 of 400 batches, 5 s, about 12 s left.
    ...
    Scoring the test split: done in 17 s.

`advance` counts into the innermost open stretch, so a model's loop (such
as `Translator.translate_all`) reports into the stretch a run opened around
it; outside every stretch it does nothing. Only the innermost stretch
reports while stretches are nested.
"""

import contextlib
import threading
import time

import keras
from absl import logging

# Seconds between two progress lines of a stretch.
EVERY = 5.0

_open = []  # The open stretches, innermost last.


class Stretch:
    """What a stretch has done: `count` of `total` `unit`s (None: not
    counted, or the total not known) since `start`."""

    def __init__(self, what):
        self.what = what
        self.count = 0
        self.total = None
        self.unit = "steps"
        self.start = time.perf_counter()

    def seconds(self):
        """Seconds since the stretch started."""
        return time.perf_counter() - self.start

    def advance(self, n=1, total=None, unit=None):
        """Counts `n` more `unit`s done, of `total` (if given)."""
        self.count += n
        if total is not None:
            self.total = total
        if unit is not None:
            self.unit = unit

    def report(self):
        """`what: <how far>, <seconds> s[, about <seconds> s left]`."""
        seconds = self.seconds()
        if not self.count:
            return f"{self.what}: {seconds:.0f} s so far"
        done = f"{self.count:,}"
        left = ""
        if self.total:
            done += f" of {self.total:,}"
            if self.count < self.total:
                remaining = seconds * (self.total - self.count) / self.count
                left = f", about {remaining:.0f} s left"
        return f"{self.what}: {done} {self.unit}, {seconds:.0f} s{left}"


@contextlib.contextmanager
def stretch(what, every=EVERY):
    """Logs `what` now, `Stretch.report()` every `every` seconds until the
    block ends, and `what: done in N s` if it took `every` or longer
    (nothing more if the block raises). Yields the `Stretch`."""
    logging.info("%s.", what)
    work = Stretch(what)
    ended = threading.Event()

    def beat():
        while not ended.wait(every):
            if _open and _open[-1] is work:
                logging.info("%s.", work.report())

    _open.append(work)
    thread = threading.Thread(target=beat, name="zoo-progress", daemon=True)
    thread.start()
    try:
        yield work
    finally:
        ended.set()
        thread.join()
        _open.remove(work)
    if work.seconds() >= every:
        logging.info("%s: done in %.0f s.", what, work.seconds())


def advance(n=1, total=None, unit=None):
    """`Stretch.advance` of the innermost open stretch; nothing if none."""
    if _open:
        _open[-1].advance(n, total, unit)


class Counter(keras.callbacks.Callback):
    """Counts the batches of `model.evaluate` or `model.predict` into the
    innermost open stretch (`callbacks=[progress.Counter()]`)."""

    def _count(self, batch, logs=None):
        steps = (self.params or {}).get("steps")
        advance(total=steps if steps and steps > 0 else None, unit="batches")

    on_test_batch_end = _count
    on_predict_batch_end = _count
