"""Smart HACCP: critical control points, their readings (a time series in the SQL store) and deviations (graph)."""
