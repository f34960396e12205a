// Inside the embed's iframe: tell the docs page our height, preview markdown (similar.js suggests
// similar questions), fill in form tokens on a page rendered for every visitor, and sign in
// through a popup on our own origin. The embed works without this file (except provider
// sign-in; and a first-time visitor's first post comes back once to be sent again).
(function () {
  "use strict";
  var root = document.documentElement;
  var parentOrigin = root.getAttribute("data-parent-origin");
  var framed = window.parent !== window;

  function tell(message) {
    // Only to the exact docs site that framed us (CSP frame-ancestors checked it is allowed).
    if (framed && parentOrigin) window.parent.postMessage(message, parentOrigin);
  }

  var lastHeight = 0;
  function reportHeight() {
    var height = Math.ceil(document.body.getBoundingClientRect().height);
    if (height !== lastHeight) {
      lastHeight = height;
      tell({ type: "community:height", height: height });
    }
  }
  if (window.ResizeObserver) new ResizeObserver(reportHeight).observe(document.body);
  document.addEventListener("toggle", reportHeight, true);
  window.addEventListener("load", reportHeight);
  tell({ type: "community:ready" });
  reportHeight();

  // A page stored for every visitor says when things happened; say how long ago, as the
  // server does for a page rendered for one reader (templating.time_ago).
  var UNITS = [
    ["year", 365 * 86400],
    ["month", 30 * 86400],
    ["week", 7 * 86400],
    ["day", 86400],
    ["hour", 3600],
    ["minute", 60],
  ];
  function ago(seconds) {
    if (seconds < 45) return "just now";
    for (var i = 0; i < UNITS.length; i++) {
      if (seconds >= UNITS[i][1]) {
        var count = Math.floor(seconds / UNITS[i][1]);
        return count + " " + UNITS[i][0] + (count !== 1 ? "s" : "") + " ago";
      }
    }
    return "1 minute ago";
  }
  document.querySelectorAll("time[data-ago]").forEach(function (element) {
    var moment = Date.parse(element.getAttribute("datetime"));
    if (isNaN(moment)) return;
    var seconds = Math.max(0, Math.floor((Date.now() - moment) / 1000));
    element.textContent = (element.getAttribute("data-prefix") || "") + ago(seconds);
  });

  // After an action we come back to "#question-N": open it and bring it into the reader's view.
  if (location.hash) {
    var target = document.getElementById(location.hash.slice(1));
    if (target) {
      var details = target.querySelector("details");
      if (details) details.open = true;
      tell({ type: "community:scroll", top: target.getBoundingClientRect().top + window.scrollY });
    }
  }

  function csrfToken() {
    var input = document.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  // A first-time visitor gets the page rendered once for everyone, so its forms carry no CSRF
  // token and no submission key. Fill them in when a form is first used: the token from our
  // server (it starts this reader's session), the key from the browser's random numbers.
  var tokenRequest = null;
  function randomKey() {
    var bytes = new Uint8Array(24);
    window.crypto.getRandomValues(bytes);
    return btoa(String.fromCharCode.apply(null, bytes))
      .replace(/\+/g, "-")
      .replace(/\//g, "_")
      .replace(/=+$/, "");
  }
  function ensureTokens() {
    document.querySelectorAll("input[name=submission_key]").forEach(function (input) {
      if (!input.value) input.value = randomKey();
    });
    if (csrfToken() || !root.getAttribute("data-token-url")) return Promise.resolve();
    if (!tokenRequest) {
      tokenRequest = fetch(root.getAttribute("data-token-url"), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          document.querySelectorAll("input[name=csrf_token]").forEach(function (input) {
            if (!input.value) input.value = data.csrf_token;
          });
        })
        .catch(function (error) {
          tokenRequest = null; // try again next time
          throw error;
        });
    }
    return tokenRequest;
  }
  document.addEventListener("focusin", function (event) {
    if (event.target.form) ensureTokens().catch(function () {});
  });
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      var input = form.querySelector("input[name=csrf_token]");
      if (!input || input.value) return;
      // Not ready yet: hold this submit, and send it again (with the same button) when it is.
      event.preventDefault();
      event.stopImmediatePropagation();
      var submitter = event.submitter || null;
      ensureTokens()
        .then(function () {
          form.requestSubmit(submitter);
        })
        .catch(function () {
          HTMLFormElement.prototype.submit.call(form); // the server keeps the text and asks again
        });
    },
    true
  );

  function post(url, fields) {
    return ensureTokens()
      .catch(function () {})
      .then(function () {
        var body = new FormData();
        body.append("csrf_token", csrfToken());
        Object.keys(fields).forEach(function (key) {
          if (fields[key] !== null) body.append(key, fields[key]);
        });
        return fetch(url, {
          method: "POST",
          body: body,
          credentials: "same-origin",
          headers: { Accept: "application/json" },
        });
      })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  // Markdown preview without leaving the page (the Preview button also works without script).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button[name=preview]");
    if (!button) return;
    var form = button.form;
    var pane = form && form.querySelector(".preview");
    if (!pane || !form.getAttribute("data-preview-url")) return;
    event.preventDefault();
    post(form.getAttribute("data-preview-url"), { body: form.elements.body.value })
      .then(function (data) {
        pane.querySelector(".prose").innerHTML = data.html; // sanitised by the server (bleach)
        pane.hidden = false;
        reportHeight();
      })
      .catch(function () {
        form.requestSubmit(button); // the server's preview, not a post
      });
  });

  document.addEventListener("community:similar-shown", reportHeight);

  // Provider sign-in: a popup on our origin signs in, then hands a one-time code back.
  var status = document.querySelector(".popup-status");
  function say(text) {
    if (status) {
      status.textContent = text;
      status.hidden = false;
    }
  }
  document.querySelectorAll("[data-needs-script]").forEach(function (el) {
    el.hidden = false;
  });
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-popup-sign-in")) return;
    event.preventDefault();
    // Opened now, while the click still counts as the reader's gesture (popup blockers).
    var popup = window.open("about:blank", "community-sign-in", "popup,width=520,height=680");
    if (!popup) {
      say("Your browser blocked the sign-in window. Allow pop-ups for this site, or sign in with your email and password.");
      return;
    }
    var fields = {};
    new FormData(form).forEach(function (value, key) {
      if (key !== "csrf_token") fields[key] = value;
    });
    post(form.action, fields)
      .then(function (data) {
        popup.location.href = data.url;
        say("Finish signing in in the window that opened…");
        waitFor(popup, form.getAttribute("data-redeem-url"));
      })
      .catch(function () {
        popup.close();
        say("Something went wrong. Please try again.");
      });
  });

  function waitFor(popup, redeemUrl) {
    var finished = false;
    var deadline = Date.now() + 10 * 60 * 1000;
    function redeem(code) {
      return post(redeemUrl, { code: code }).then(function (data) {
        if (data.signed_in && !finished) {
          finished = true;
          window.location.href = data.location;
        }
      });
    }
    window.addEventListener("message", function (event) {
      if (event.origin !== window.location.origin || event.source !== popup) return;
      var data = event.data;
      if (data && data.type === "community:signed-in" && typeof data.code === "string") {
        redeem(data.code);
      }
    });
    // If the provider's page cut the popup off from us, the sign-in still arrives: ask.
    (function poll() {
      if (finished || Date.now() > deadline) return;
      setTimeout(function () {
        redeem(null).then(poll, poll);
      }, 2000);
    })();
  }
})();
