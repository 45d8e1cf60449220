"""Organizations own everything; stations and data that predate organizations live in the default one."""

DEFAULT_ORG_ID = "default"
