// Inside the embed's iframe: tell the docs page our height, preview markdown, suggest similar
// questions, and sign in through a popup on our own origin. The embed works without this file
// (except provider sign-in).
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

  function post(url, fields) {
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
    }).then(function (response) {
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
        form.submit();
      });
  });

  // Similar questions while a visitor types a subject (the embed's ask form: the links open in
  // a new tab, as only /embed may be framed). Typing is never held up: a lookup starts after a
  // pause, and a newer one aborts the one in flight. Once the visitor has seen the answer for
  // the subject as it stands, the form says so (similar_seen), so the server does not ask "Did
  // you mean one of these?" again on submit.
  function similarQuestions(form, afterShow) {
    var subject = form.elements.subject;
    var list = form.querySelector("[data-similar-list]");
    var seen = form.elements.similar_seen;
    if (!subject || !list || !window.fetch || !window.AbortController) return;
    var timer = null;
    var inFlight = null;
    var asked = null;
    var answered = null;

    function show(questions) {
      list.textContent = "";
      list.hidden = !questions.length;
      if (questions.length) {
        var heading = document.createElement("p");
        heading.textContent = "Similar questions: one of these may already answer yours.";
        var items = document.createElement("ul");
        questions.forEach(function (question) {
          var item = document.createElement("li");
          var link = document.createElement("a");
          link.href = question.url;
          link.textContent = question.subject; // text, never HTML
          link.target = "_blank"; // keeps this form and what was typed in it
          link.rel = "noopener";
          item.appendChild(link);
          if (question.resolved) {
            var badge = document.createElement("span");
            badge.className = "badge badge-resolved";
            badge.textContent = "Resolved";
            item.appendChild(badge);
          }
          items.appendChild(item);
        });
        list.appendChild(heading);
        list.appendChild(items);
      }
      if (afterShow) afterShow();
    }

    function lookUp() {
      var text = subject.value.trim();
      if (text === asked) return;
      asked = text;
      if (inFlight) inFlight.abort();
      inFlight = null;
      if (text.length < 4) {
        show([]);
        return;
      }
      var controller = new AbortController();
      inFlight = controller;
      var url = new URL(form.getAttribute("data-similar-url"), window.location.href);
      url.searchParams.set("subject", text);
      var page = form.elements.page_url;
      if (page && page.value) url.searchParams.set("url", page.value);
      fetch(url.toString(), {
        signal: controller.signal,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          if (inFlight !== controller) return; // a newer lookup took over
          inFlight = null;
          answered = text;
          show(data.questions || []);
          if (seen && subject.value.trim() === text) seen.value = "1";
        })
        .catch(function () {
          if (inFlight === controller) inFlight = null; // the form works without suggestions
        });
    }

    subject.addEventListener("input", function () {
      if (seen) seen.value = subject.value.trim() === answered ? "1" : "";
      window.clearTimeout(timer);
      timer = window.setTimeout(lookUp, 300);
    });
    if (subject.value.trim()) lookUp(); // shown again with its text (a refused submit, a draft)
  }
  document.querySelectorAll("form[data-similar-url]").forEach(function (form) {
    similarQuestions(form, reportHeight);
  });

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
