"""The HTTP edge: one router per feature (`routers.py`), and the authentication dependencies
they share (`auth.py`)."""
