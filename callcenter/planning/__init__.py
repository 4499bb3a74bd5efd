"""Workforce planning (docs/reports.md, "Planning"): staffing with Erlang C and Erlang A, the what-if
simulator that drives the real routing core, and forecasts of contacts and handle time from the
report tables. Computations on demand: no live state, nothing shared between nodes."""
