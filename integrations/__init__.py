"""Formats and data at the edges (holiday calendars; iCal and CB-CTT to come).

Pure: plain values in, plain values out. Nothing here imports ``booking``.
"""
