"""HTTP of the customers domain alone: identify a caller by 户号 or mobile (masked answers).

Views that join a customer with its meter, bills or tickets are flows (api/flows/routes.py).
"""
from __future__ import annotations

from fastapi import APIRouter, Depends

from api.core.deps import SessionDep, require_service
from api.customers import service
from api.customers.schemas import IdentifyRead, IdentifyRequest

router = APIRouter(prefix="/api/customers", tags=["customers"])


@router.post("/identify", response_model=IdentifyRead, dependencies=[Depends(require_service)])
def identify(body: IdentifyRequest, session: SessionDep) -> IdentifyRead:
    """Find accounts by 户号 and/or mobile; names and addresses come back masked."""
    return service.identify(session=session, account_no=body.account_no, phone=body.phone)
