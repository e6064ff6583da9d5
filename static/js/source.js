// The source viewer: bring the cited passage (#cited) into view.
(function () {
  "use strict";
  var cited = document.getElementById("cited");
  if (cited) { cited.scrollIntoView({ block: "center" }); }
})();
