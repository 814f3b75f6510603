"""The ZeroMQ data plane: services agents dial into (clock exchange, later content and stream)."""
