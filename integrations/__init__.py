"""Formats and data at the edges (holiday calendars, CB-CTT timetabling files; iCal to come).

Pure: plain values in, plain values out. Nothing here imports ``booking``.
"""
