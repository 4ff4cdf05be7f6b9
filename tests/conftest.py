"""Fixtures shared by the test modules."""

import socket

import pytest


def _refuse(address, timeout=None, *args, **kwargs):
    raise OSError(f"no network in tests ({address})")


@pytest.fixture
def no_network(monkeypatch):
    """Every TCP connection attempt fails at once, as on a machine offline."""
    monkeypatch.setattr(socket, "create_connection", _refuse)
