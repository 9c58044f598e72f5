"""Signed licences per tenant and app, and the entitlements enforced at request time."""

from tenantry.licensing.document import verify_licence
from tenantry.licensing.models import Licence, LicenceInvalid

__all__ = ["Licence", "LicenceInvalid", "verify_licence"]
