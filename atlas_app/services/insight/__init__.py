"""Measures and documents: dashboards, control charts, reports and letters."""
