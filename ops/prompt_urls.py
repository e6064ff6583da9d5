"""URLs of the prompt pages (``/ops/prompts/``), in the ``ops`` namespace."""

from django.urls import URLPattern, path

from ops.prompt_views import (
    PromptDetailView,
    PromptLabelView,
    PromptListView,
    PromptProposeView,
    PromptVersionView,
    ProposalDecideView,
    ProposalView,
)

urlpatterns: list[URLPattern] = [
    path("", PromptListView.as_view(), name="prompt_list"),
    # Before "<prompt_id>/": "proposals" is not a prompt.
    path("proposals/<int:proposal_id>/", ProposalView.as_view(), name="prompt_proposal"),
    path("proposals/<int:proposal_id>/decide/", ProposalDecideView.as_view(), name="prompt_proposal_decide"),
    path("<slug:prompt_id>/", PromptDetailView.as_view(), name="prompt_detail"),
    path("<slug:prompt_id>/v<int:version>/", PromptVersionView.as_view(), name="prompt_version"),
    path("<slug:prompt_id>/propose/", PromptProposeView.as_view(), name="prompt_propose"),
    path("<slug:prompt_id>/labels/", PromptLabelView.as_view(), name="prompt_label"),
]
