"""The event-sourced domain: aggregates, their events, map diffing and read projections.

Pure code: no sockets, files or clocks. Times come in with the data that caused them."""
