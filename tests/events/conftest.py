"""Fixtures of the production-shape tests: the test database as a URL for real processes."""

import pytest
from django.db import connection


@pytest.fixture
def database_url():
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST']}:{s['PORT']}/{s['NAME']}"
