"""Where data comes from: a tensorflow-datasets name or local files.

Every recipe takes one `--data` flag. A value that names an existing path is
local data, read by the recipe's local-file reader; any other value is a
tensorflow-datasets name. tensorflow-datasets retries a download for minutes
when the network is down, so before asking it to download we check, within
seconds, whether its servers can be reached at all.
"""

import os
import socket
import threading

import numpy as np

from absl import logging

from zoo import errors

# Where tensorflow-datasets downloads from.
TFDS_HOSTS = (("storage.googleapis.com", 443),)


# Byte order marks of encodings that are not UTF-8, longest first.
_OTHER_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"),
)


def numbered_lines(lines):
    """`(number, line)` of each line of a text file, numbered from 1.

    `lines` are the file's lines as a file opened in binary iterates them
    (bytes), or as str: split after each "\\n" only, each with its line
    end. Those are the lines: a line ends at "\\n", so at "\\r\\n" too (a
    reader strips any "\\r" before the "\\n" with it), and a lone "\\r"
    inside a line is part of its text, never a line end. Read a file in
    text mode with universal newlines (`newline=None` or `""`), through
    `str.splitlines()` or with the `csv` module's own line handling, and
    a lone "\\r" inside a text ends the row.

    One exception: a file without any "\\n" but with a lone "\\r" before
    its end has the line ends of classic Mac OS (as Excel for Mac's "CSV
    (Macintosh)" writes): its lines end at each "\\r" (such a file is
    read whole, as its one line, before it is split).

    Example:

    >>> list(numbered_lines([b"a\\rb\\r\\n", b"c\\n"]))
    [(1, b'a\\rb\\r\\n'), (2, b'c\\n')]
    >>> list(numbered_lines([b"a\\rb\\r"]))
    [(1, b'a\\r'), (2, b'b\\r')]
    """
    lines = iter(lines)
    first = next(lines, None)
    if first is None:
        return
    cr, lf = ("\r", "\n") if isinstance(first, str) else (b"\r", b"\n")
    if first.endswith(lf) or cr not in first.rstrip(cr):
        yield 1, first
        yield from enumerate(lines, start=2)
        return
    *ended, last = first.split(cr)
    yield from enumerate(
        [line + cr for line in ended] + ([last] if last else []), start=1)


def decode_line(raw, number):
    """`(text, None)` of line `number` (1-based) as bytes, or `(None, why)`.

    UTF-8, without the byte order mark some editors write first; a NUL
    byte (binary data, or UTF-16 text without its mark) or bytes that are
    not UTF-8 give the reason the line cannot be read instead.
    """
    if b"\x00" in raw:
        return None, (f"NUL byte at byte {raw.index(0)} of the line (binary "
                      "data or UTF-16 text?); save the file as UTF-8")
    try:
        return raw.decode("utf-8-sig" if number == 1 else "utf-8"), None
    except UnicodeDecodeError as error:
        return None, (f"not valid UTF-8 ({error.reason} at byte "
                      f"{error.start} of the line); save the file as UTF-8")


def foreign_bom(head):
    """What is wrong with a text file starting with bytes `head`, or None.

    A loader reads UTF-8; a UTF-16 or UTF-32 byte order mark names the
    encoding the file is in instead: "UTF-16 text (byte order mark fffe),
    expected UTF-8; save the file as UTF-8".
    """
    for bom, encoding in _OTHER_BOMS:
        if head.startswith(bom):
            return (f"{encoding} text (byte order mark {bom.hex()}), "
                    "expected UTF-8; save the file as UTF-8")
    return None


class DataUnavailableError(errors.UserError, RuntimeError):
    """The requested data cannot be had on this machine."""


def is_local(data):
    """True if `data` names a file or folder that exists."""
    return bool(data) and os.path.exists(os.path.expanduser(data))


def looks_like_path(data):
    """True if `data` reads as a path: it has a folder separator, starts
    with "~" or ".", or ends in a file extension (".tsv", ".txt.gz").

    A tensorflow-datasets name can have a "/" too (a config,
    `ted_hrlr_translate/pt_to_en`): check `is_tfds_name` first.

    Example:

    >>> [looks_like_path(d) for d in ("data/x", "x.tsv", "~", "mnist")]
    [True, True, True, False]
    """
    data = str(data)
    separators = {"/", os.sep, os.altsep} - {None}
    return (any(s in data for s in separators) or data.startswith(("~", "."))
            or bool(os.path.splitext(data)[1].strip(".")))


def is_tfds_name(name):
    """True if `name` (before any "/config" or ":version") is a dataset
    registered with tensorflow-datasets; nothing is downloaded."""
    import tensorflow_datasets as tfds

    base = str(name).split(":")[0].split("/")[0]
    return base in tfds.list_builders(with_community_datasets=False)


def check_tfds_name(name, local_hint=""):
    """Raises unless `name` can be a tensorflow-datasets dataset.

    Raises:
        zoo.errors.DataNotFoundError: "no such file or folder: NAME" when
            `name` looks like a path (see `looks_like_path`); otherwise
            that `name` is neither, followed by `local_hint`.
    """
    if is_tfds_name(name):
        return
    if looks_like_path(name):
        raise errors.DataNotFoundError(f"no such file or folder: {name}")
    raise errors.DataNotFoundError(
        f"--data={name!r} is neither a file or folder nor a "
        "tensorflow-datasets name (see `tfds.list_builders()`)."
        + (f" {local_hint}" if local_hint else ""))


def network_available(hosts=TFDS_HOSTS, timeout=3.0):
    """True if a TCP connection to one of `hosts` opens within `timeout` s.

    Name resolution has no timeout of its own, so the probe runs in a
    daemon thread that is abandoned when the time is up.
    """
    result = []

    def probe():
        for host, port in hosts:
            try:
                with socket.create_connection((host, port), timeout=timeout):
                    result.append(True)
                    return
            except OSError as error:
                logging.info("Cannot reach %s:%d: %s", host, port, error)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 1.0)
    return bool(result)


def tfds_prepared(name, data_dir=None):
    """True if the tensorflow-datasets dataset `name` is already on disk."""
    import tensorflow_datasets as tfds

    try:
        return tfds.builder(name, data_dir=data_dir).is_prepared()
    except Exception as error:  # An unknown name or an unreadable folder.
        logging.info("tfds builder %r unavailable: %s", name, error)
        return False


def tfds_datasets(name, splits, data_dir=None, as_supervised=True,
                  local_hint=""):
    """`splits` of a tensorflow-datasets dataset, as `tf.data.Dataset`s.

    Use it for examples that cannot be stacked into arrays (variable-length
    sequences); `load_tfds` returns fixed-shape data as numpy arrays.

    Args:
        name: A tensorflow-datasets name, such as `"conll2003"`.
        splits: Split names, such as `["train", "test"]`.
        data_dir: Folder of prepared tensorflow-datasets data; `None` for
            the default one.
        as_supervised: Whether examples are `(input, label)` pairs rather
            than feature dicts.
        local_hint: A sentence added to the unavailable-data message: what
            local files the caller reads instead.

    Returns:
        A list of `tf.data.Dataset`s, one per split, in the order given.

    Raises:
        zoo.errors.DataNotFoundError: `name` is a path that does not exist
            or no tensorflow-datasets name (see `check_tfds_name`).
        DataUnavailableError: The dataset is not on disk and its download
            servers cannot be reached; the message says how to provide data.
    """
    import tensorflow_datasets as tfds

    check_tfds_name(name, local_hint)
    if not tfds_prepared(name, data_dir) and not network_available():
        raise DataUnavailableError(
            f"The tensorflow-datasets dataset {name!r} is not in "
            f"{data_dir or 'the default tfds data dir'} and its download "
            "servers cannot be reached (offline?). Pass --data=PATH to "
            "local files, or --tfds_data_dir=DIR to a prepared copy."
            + (f" {local_hint}" if local_hint else "")
        )
    return tfds.load(
        name,
        split=list(splits),
        data_dir=data_dir,
        as_supervised=as_supervised,
    )


def load_tfds(name, splits, data_dir=None, as_supervised=True,
              local_hint=""):
    """Loads `splits` of a tensorflow-datasets dataset as numpy arrays.

    Arguments are `tfds_datasets`'.

    Raises:
        DataUnavailableError: The dataset is not on disk and its download
            servers cannot be reached; the message says how to provide data.
    """
    datasets = tfds_datasets(name, splits, data_dir, as_supervised,
                             local_hint)
    # Batch by a fixed size rather than `batch_size=-1`, which needs the
    # split sizes in the dataset's metadata (absent, for instance, under
    # tfds.testing.mock_data).
    return [to_numpy(dataset) for dataset in datasets]


def to_numpy(dataset, chunk=8192):
    """Stacks every element of `dataset` into numpy arrays (same structure)."""
    import tensorflow as tf

    chunks = list(dataset.batch(chunk).as_numpy_iterator())
    if not chunks:
        spec = dataset.element_spec
        return tf.nest.map_structure(
            lambda s: np.zeros((0, *s.shape), s.dtype.as_numpy_dtype), spec
        )
    return tf.nest.map_structure(
        lambda *parts: np.concatenate(parts), *chunks
    )
