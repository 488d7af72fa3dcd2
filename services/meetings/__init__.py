"""Meetings service: the life of a cell meeting (sinh hoạt chi bộ), by the rules."""
