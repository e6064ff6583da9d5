// The documents page: drag and drop onto the upload zone, the chosen files' names, and a reset
// form after a successful upload.
(function () {
  "use strict";
  var EMPTY_LABEL = "Drop files here or choose them";
  var form = document.getElementById("upload-form");
  var zone = document.getElementById("drop-zone");
  var input = document.getElementById("id_files");
  var label = document.getElementById("drop-label");
  if (!form || !zone || !input || !label) { return; }  // readers without upload rights see no form
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function (event) { event.preventDefault(); zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (event) {
    input.files = event.dataTransfer.files;
    input.dispatchEvent(new Event("change"));
  });
  input.addEventListener("change", function () {
    label.textContent = input.files.length + " file(s) chosen: " +
      Array.prototype.map.call(input.files, function (file) { return file.name; }).join(", ");
  });
  form.addEventListener("htmx:afterRequest", function (event) {
    if (event.target === form && event.detail.successful) { form.reset(); label.textContent = EMPTY_LABEL; }
  });
})();
