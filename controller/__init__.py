"""The commune station: storage, timed work, links to the fleet, reports, operator API."""
