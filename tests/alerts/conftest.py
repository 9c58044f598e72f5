"""The admin console's live server, shared with the admin pages' tests."""

from tests.admin.conftest import stage

__all__ = ["stage"]
