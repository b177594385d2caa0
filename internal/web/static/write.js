// The write form: says at once when a number is outside the tag's limits,
// before the server does. The server checks again; this is only comfort.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var input = document.getElementById("value"), st = document.getElementById("value-status");
    if (!input || !st || !input.hasAttribute("data-min")) { return; }
    var lo = parseFloat(input.getAttribute("data-min")), hi = parseFloat(input.getAttribute("data-max"));
    input.addEventListener("input", function () {
      var v = parseFloat(input.value);
      if (input.value.trim() === "") { st.textContent = ""; input.removeAttribute("aria-invalid"); return; }
      if (isNaN(v) || v < lo || v > hi) {
        st.textContent = "Outside " + lo + " … " + hi;
        input.setAttribute("aria-invalid", "true");
      } else {
        st.textContent = "";
        input.removeAttribute("aria-invalid");
      }
    });
  });
})();
