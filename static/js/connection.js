// The "live / offline" pill of pages with a websocket (chat, documents): element #connection.
(function () {
  "use strict";
  function show(text, state) {
    var pill = document.getElementById("connection");
    if (pill) { pill.textContent = text; pill.className = "status-pill " + state; }
  }
  document.addEventListener("htmx:wsOpen", function () { show("live", "ok"); });
  document.addEventListener("htmx:wsClose", function () { show("offline", "bad"); });
})();
