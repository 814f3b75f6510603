"""The `loaxa` command line: a thin client of the operator API."""
