from django.urls import path

from qa.views import (
    ChatView,
    ConversationDeleteView,
    ConversationRenameView,
    ConversationView,
    ReviewQueueView,
    SourceView,
)

app_name = "qa"
urlpatterns = [
    path("chat/", ChatView.as_view(), name="chat"),
    path("chat/c/<int:conversation_id>/", ConversationView.as_view(), name="conversation"),
    path("chat/c/<int:conversation_id>/rename/", ConversationRenameView.as_view(), name="conversation-rename"),
    path("chat/c/<int:conversation_id>/delete/", ConversationDeleteView.as_view(), name="conversation-delete"),
    path("chat/a/<int:answer_id>/source/<int:n>/", SourceView.as_view(), name="source"),
    path("review/", ReviewQueueView.as_view(), name="review"),
]
