"""Tiny test helpers that run under CPython and MicroPython alike."""
import os


def _repo_root():
    # __file__ is <repo>/tests/firmware/support.py; no os.path on MicroPython.
    parts = __file__.replace("\\", "/").split("/")[:-3]
    return "/".join(parts) or "."


REPO = _repo_root()

try:
    import tempfile
    import atexit
    import shutil

    _TMP = tempfile.mkdtemp(prefix="railbot-test-")
    atexit.register(shutil.rmtree, _TMP, True)
except ImportError:
    _TMP = "/tmp"
    try:
        os.mkdir(_TMP)
    except OSError:
        pass


def tmp_path(name):
    return _TMP + "/" + name


def write_tmp(name, text):
    path = tmp_path(name)
    with open(path, "w") as f:
        f.write(text)
    return path


def raises(exc_type, fn, *args):
    try:
        fn(*args)
    except exc_type as e:
        return e
    raise AssertionError(exc_type.__name__ + " not raised")
