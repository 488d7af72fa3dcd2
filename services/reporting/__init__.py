"""Reporting service: compliance projections built from the members and meetings event streams."""
