"""Imports every domain's tables so metadata (and Alembic) sees the whole schema."""
from api.access import models as access  # noqa: F401
from api.audit import models as audit  # noqa: F401
from api.billing import models as billing  # noqa: F401
from api.charging import models as charging  # noqa: F401
from api.conversations import models as conversations  # noqa: F401
from api.core import ratelimit  # noqa: F401 (rate_counters)
from api.customers import models as customers  # noqa: F401
from api.db import Base
from api.dispatch import models as dispatch  # noqa: F401
from api.forecasting import models as forecasting  # noqa: F401
from api.kb import models as kb  # noqa: F401
from api.metering import models as metering  # noqa: F401
from api.monitoring import models as monitoring  # noqa: F401
from api.notify import models as notify  # noqa: F401
from api.outages import models as outages  # noqa: F401
from api.staff import models as staff  # noqa: F401
from api.tickets import models as tickets  # noqa: F401

__all__ = ["Base"]
