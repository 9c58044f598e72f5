"""Request and response models of the conversations API."""
