"""Start-up refuses the development secret outside the demo profile."""

import pytest
from pydantic import ValidationError

from api.settings import DEV_SECRET, ApiSettings


def test_production_profile_refuses_the_development_secret():
    with pytest.raises(ValidationError) as refused:
        ApiSettings(profile="production", secret_key=DEV_SECRET)

    assert "GOVDX_SECRET_KEY" in str(refused.value)


def test_demo_profile_accepts_the_development_secret():
    assert ApiSettings(profile="demo").secret_key == DEV_SECRET


def test_short_secret_is_refused():
    with pytest.raises(ValidationError):
        ApiSettings(profile="production", secret_key="too-short")
