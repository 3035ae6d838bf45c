/* Sepsis Sentinel: when htmx swaps nothing (an error status, or no answer at all), say so on the page.
   The form keeps what the user typed; the banner #request-failed (base.html) shows the server's own message
   (the [role=alert] element of its response) or, when the server could not be reached, a message of our own.
   Text only (textContent): nothing from the response is inserted as HTML. */
(function () {
  "use strict";

  function show(text) {
    var banner = document.getElementById("request-failed");
    if (!banner) { return; }
    banner.textContent = text;
    banner.hidden = false;
  }

  function serverMessage(xhr) {
    try {
      var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
      var alert = doc.querySelector("[role=alert]");
      return alert ? alert.textContent.replace(/\s+/g, " ").trim() : "";
    } catch (e) {
      return "";
    }
  }

  document.addEventListener("htmx:responseError", function (evt) {
    var xhr = evt.detail.xhr;
    show(serverMessage(xhr) || ("Not saved: Sepsis Sentinel answered with error " + xhr.status +
      ". What you entered is still on the page; please try again."));
  });

  document.addEventListener("htmx:sendError", function () {
    show("Not saved: Sepsis Sentinel could not be reached. What you entered is still on the page; " +
      "please try again.");
  });

  document.addEventListener("htmx:afterRequest", function (evt) {
    var banner = document.getElementById("request-failed");
    if (banner && evt.detail.successful) { banner.hidden = true; }
  });
})();
