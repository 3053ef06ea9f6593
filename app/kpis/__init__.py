"""KPIs for managers and admins, each one SQL aggregate (``docs/kpis.md``)."""
