// otlink pages work without JavaScript; this file only adds comfort. It is
// a static file because the Content-Security-Policy forbids inline scripts.
document.addEventListener("DOMContentLoaded", function () {
  var first = document.querySelector("input[autofocus]") || document.querySelector("main input:not([type=hidden])");
  if (first) { first.focus(); }
});
