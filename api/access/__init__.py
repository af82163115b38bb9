"""The access log: who viewed or changed customer data and tickets, when, and with what answer."""
