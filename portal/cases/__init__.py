"""Cases: dashboards, the case page and its people."""
