"""Moved to ``core.text`` (the text toolkit every layer shares). This name is kept only until the
last importer (tests/security/test_answer_rendering_xss.py) switches; new code imports core.text."""

from core.text import citations_of, strip_citations

__all__ = ["citations_of", "strip_citations"]
