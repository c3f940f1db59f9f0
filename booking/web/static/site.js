// venueshare pages: small improvements on top of pages that work without this file.
// Written for this project. "Venues near me" asks the browser for a position (only when the
// button is pressed) and reloads the map ranked by distance; "copy" buttons copy an address.
(function () {
  "use strict";
  var near = document.getElementById("near-me");
  var status = document.getElementById("near-status");
  if (near && "geolocation" in navigator) {
    near.hidden = false;
    near.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(
        function (position) {
          var lat = position.coords.latitude.toFixed(5);
          var lon = position.coords.longitude.toFixed(5);
          window.location.assign("/?near=" + lat + "," + lon);
        },
        function () {
          if (status) status.textContent = near.getAttribute("data-error");
        },
        { timeout: 15000, maximumAge: 600000 }
      );
    });
  }
  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.getAttribute("data-copy"));
      navigator.clipboard.writeText(field.value).then(function () {
        button.textContent = button.textContent.replace(/\s*✓$/, "") + " ✓";
      });
    });
  });
})();
