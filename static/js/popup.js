// The sign-in popup's last pages. Confirm automatically when our own embed opened this window;
// then give that embed its one-time code and close.
(function () {
  "use strict";
  function openerIsOurs() {
    try {
      return !!window.opener && window.opener.location.origin === window.location.origin;
    } catch (error) {
      return false; // another site's window: the person confirms by hand
    }
  }
  var confirm = document.getElementById("embed-confirm");
  if (confirm && openerIsOurs()) {
    confirm.submit();
    return;
  }
  var handoff = document.getElementById("embed-handoff");
  if (!handoff) return;
  if (openerIsOurs()) {
    // Only a window on our own origin (the embed) can receive it.
    window.opener.postMessage(
      { type: "community:signed-in", code: handoff.getAttribute("data-code") },
      window.location.origin
    );
  }
  setTimeout(function () {
    window.close();
  }, 500);
})();
