"""Fixtures of the inventory tests (the builders live in `stock_fixtures`, shared with
`hms/pharmacy/tests/test_dispensing.py`)."""

import pytest

from .stock_fixtures import make_world


@pytest.fixture
def world(db):
    return make_world()
