from django.urls import path

from qa.views import ChatView, ReviewQueueView

app_name = "qa"
urlpatterns = [
    path("chat/", ChatView.as_view(), name="chat"),
    path("review/", ReviewQueueView.as_view(), name="review"),
]
