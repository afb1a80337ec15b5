"""/readyz against the real Redis broker the integration suite runs on."""
import pytest

from worker.settings import Settings
from worker.web import create_app

pytestmark = pytest.mark.integration


def test_readyz_is_200_with_the_real_broker_up(redis_url):
    s = Settings(_env_file=None, redis_url=redis_url, zendesk_webhook_secret="s")
    assert create_app(s).test_client().get("/readyz").get_json() == {"status": "ok"}
