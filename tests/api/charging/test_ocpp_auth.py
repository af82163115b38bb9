"""Chargers authenticate with HTTP Basic auth before the socket opens (OCPP 1.6 security profile 1)."""
from __future__ import annotations

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from api.charging.simulator import SimulatedCharger, basic_auth
from tests.api.charging.conftest import AC_CHARGER, DC_CHARGER, SECRET
from tests.conftest import run_coroutine

pytestmark = pytest.mark.timeout(120)


async def refused(url: str, charge_point_id: str, *, headers: dict | None, subprotocols=("ocpp1.6",)) -> int:
    try:
        async with websockets.connect(f"{url}/{charge_point_id}", subprotocols=list(subprotocols), proxy=None,
                                      additional_headers=headers or {}):
            return 101
    except InvalidStatus as error:
        return error.response.status_code


@pytest.mark.parametrize("charge_point_id, headers, subprotocols", [
    (DC_CHARGER, {"Authorization": basic_auth(DC_CHARGER, SECRET + "x")}, ("ocpp1.6",)),  # wrong password
    ("TEST-NOBODY-01", {"Authorization": basic_auth("TEST-NOBODY-01", SECRET)}, ("ocpp1.6",)),  # unknown charger
    (DC_CHARGER, {"Authorization": basic_auth(AC_CHARGER, SECRET)}, ("ocpp1.6",)),  # another charger's name
    (DC_CHARGER, None, ("ocpp1.6",)),  # no credentials
    (DC_CHARGER, {"Authorization": "Basic not-base64!"}, ("ocpp1.6",)),
    (DC_CHARGER, {"Authorization": basic_auth(DC_CHARGER, SECRET)}, ("ocpp2.0.1",)),  # not OCPP 1.6
])
def test_wrong_or_unknown_credentials_are_refused_before_the_socket_opens(charging_api, charge_point_id, headers,
                                                                          subprotocols):
    assert run_coroutine(refused(charging_api.ocpp, charge_point_id, headers=headers,
                                 subprotocols=subprotocols)) == 403


def test_the_right_credentials_open_an_ocpp_1_6_socket(charging_api):
    async def play():
        charger = SimulatedCharger(charging_api.ocpp, DC_CHARGER, SECRET, meter_interval=0)
        await charger.connect()
        subprotocol = charger._ws.subprotocol
        status = await charger.boot()
        await charger.close()
        return subprotocol, status

    assert run_coroutine(play()) == ("ocpp1.6", "Accepted")
