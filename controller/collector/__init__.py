"""Regional collection: commune controllers forward their records over an MQTT bridge
to a regional collector, which stores them in PostgreSQL and reports across communes."""
