"""The groups that carry Verity's roles."""

REVIEWERS = "reviewers"
DOCUMENT_ADMINS = "document_admins"
ALL_GROUPS = (REVIEWERS, DOCUMENT_ADMINS)
# The prompt lifecycle's groups (created with their permissions by prompts' migration 0002):
# editors propose prompt changes, prompt reviewers approve them and move labels.
PROMPT_EDITORS = "prompt_editors"
PROMPT_REVIEWERS = "prompt_reviewers"
