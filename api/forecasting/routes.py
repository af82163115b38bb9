"""Transitional: the forecasting and demand-management routes cross domains and live in
api.flows.routes.forecasting and api.flows.routes.billing.

Kept only while api/main.py still includes `router` and `charts_router` from here; delete this file
once it includes the routers of those two modules.
"""
from fastapi import APIRouter

from api.flows.routes.billing import billing_router, charts_router  # noqa: F401
from api.flows.routes.forecasting import forecasting_router

router = APIRouter()
router.include_router(billing_router)
router.include_router(forecasting_router)
