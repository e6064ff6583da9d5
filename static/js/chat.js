// The chat page: Enter sends (Shift+Enter for a new line), the box empties once the question is
// sent, the list follows new messages, and deleting a conversation asks first.
(function () {
  "use strict";
  var form = document.getElementById("ask-form");
  var box = document.getElementById("question");
  if (form && box) {
    box.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
    form.addEventListener("htmx:wsAfterSend", function () { box.value = ""; });
  }
  document.addEventListener("htmx:wsAfterMessage", function () {
    var list = document.getElementById("messages");
    if (list) { list.scrollTop = list.scrollHeight; }
  });
  // Plain (non-htmx) forms with data-confirm="question" ask before they submit.
  document.addEventListener("submit", function (event) {
    var question = event.target.getAttribute && event.target.getAttribute("data-confirm");
    if (question && !window.confirm(question)) { event.preventDefault(); }
  });
})();
