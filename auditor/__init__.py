"""auditor: checks that hosting environments keep their privacy-policy promises."""

__version__ = "0.1.0"
