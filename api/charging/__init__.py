"""EV charging (充电): stations and their OCPP 1.6-J chargers, sessions, meter values, a charger simulator."""
