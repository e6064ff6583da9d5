from django.urls import path

from qa.views import (  # noqa: I001
    ChatView,
    ConversationDeleteView,
    ConversationRenameView,
    ConversationView,
    CuratedExportView,
    FeedbackView,
    ReviewItemView,
    ReviewQueueView,
    SourceView,
    TriageView,
)

app_name = "qa"
urlpatterns = [
    path("chat/", ChatView.as_view(), name="chat"),
    path("chat/c/<int:conversation_id>/", ConversationView.as_view(), name="conversation"),
    path("chat/c/<int:conversation_id>/rename/", ConversationRenameView.as_view(), name="conversation-rename"),
    path("chat/c/<int:conversation_id>/delete/", ConversationDeleteView.as_view(), name="conversation-delete"),
    path("chat/a/<int:answer_id>/source/<int:n>/", SourceView.as_view(), name="source"),
    path("chat/a/<int:answer_id>/feedback/", FeedbackView.as_view(), name="feedback"),
    path("review/", ReviewQueueView.as_view(), name="review"),
    path("review/<int:item_id>/", ReviewItemView.as_view(), name="review-item"),
    path("review/triage/", TriageView.as_view(), name="triage"),
    path("review/curated.jsonl", CuratedExportView.as_view(), name="curated-export"),
]
