"""Outside demo mode the API refuses to start with secrets anyone can look up (issue 13, hole 4)."""
from __future__ import annotations

import pytest

from api.main import create_app
from api.settings import DEMO_SECRETS, InsecureConfiguration, Settings

STRONG = {"service_token": "s" * 40, "staff_secret": "t" * 40, "rasa_token": "r" * 40}


@pytest.mark.parametrize("field", sorted(DEMO_SECRETS))
def test_a_demo_default_secret_is_refused(field):
    settings = Settings(**{**STRONG, field: DEMO_SECRETS[field]})
    with pytest.raises(InsecureConfiguration) as refused:
        create_app(settings)
    assert field.upper() in str(refused.value)


@pytest.mark.parametrize("field", sorted(DEMO_SECRETS))
def test_a_short_secret_is_refused(field):
    with pytest.raises(InsecureConfiguration, match=field.upper()):
        create_app(Settings(**{**STRONG, field: "x" * 31}))


def test_strong_secrets_start_and_demo_mode_accepts_the_defaults():
    assert create_app(Settings(**STRONG)).title
    assert create_app(Settings(demo_mode=True, **DEMO_SECRETS)).title
