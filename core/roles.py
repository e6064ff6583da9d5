"""The groups that carry Verity's roles."""

REVIEWERS = "reviewers"
DOCUMENT_ADMINS = "document_admins"
ALL_GROUPS = (REVIEWERS, DOCUMENT_ADMINS)
