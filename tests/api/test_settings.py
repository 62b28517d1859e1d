"""Start-up refuses the development secret, and cheap password hashing, outside the demo profile."""

import pytest
from pydantic import ValidationError

from api.main import create_app
from api.settings import DEV_SECRET, ApiSettings
from catalog_schema.user import passwords


def test_production_profile_refuses_the_development_secret():
    with pytest.raises(ValidationError) as refused:
        ApiSettings(profile="production", secret_key=DEV_SECRET)

    assert "GOVDX_SECRET_KEY" in str(refused.value)


def test_demo_profile_accepts_the_development_secret():
    assert ApiSettings(profile="demo").secret_key == DEV_SECRET


def test_short_secret_is_refused():
    with pytest.raises(ValidationError):
        ApiSettings(profile="production", secret_key="too-short")


def test_the_cheapest_password_profile_is_refused_outside_the_tests_and_the_demo(monkeypatch):
    monkeypatch.delenv("PYTEST_VERSION")
    monkeypatch.setenv("GOVDX_PASSWORD_HASH_PROFILE", "cheapest")

    with pytest.raises(ValidationError, match="allowed only in the test suite and with GOVDX_PROFILE=demo"):
        passwords.PasswordSettings(profile="production")


def test_the_cheapest_password_profile_is_allowed_in_the_demo(monkeypatch):
    monkeypatch.delenv("PYTEST_VERSION")
    monkeypatch.setenv("GOVDX_PASSWORD_HASH_PROFILE", "cheapest")

    assert passwords.PasswordSettings(profile="demo").hash_profile == "cheapest"


def test_a_misspelt_password_profile_stops_the_app_at_start_up(monkeypatch):
    monkeypatch.setenv("GOVDX_PASSWORD_HASH_PROFILE", "cheap")

    with pytest.raises(ValidationError, match="hash_profile"):
        create_app(ApiSettings(profile="demo"))
