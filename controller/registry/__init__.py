"""The administrative registry: units (effective-dated), stations, clusters, agents, their
live state, and the unit-of-work every operator action runs in."""
