"""The HTTP edge: authentication dependencies and route markers shared by every router."""
