// Similar questions while a visitor types a subject, on every ask form (the site's and the
// embed's). Typing is never held up: a lookup starts after a pause, and a newer one aborts the
// one in flight. Links open in a new tab, which keeps the form and what was typed in it (and in
// the embed, only /embed may be framed). Once the visitor has seen the answer for the subject
// as it stands, the form says so (similar_seen), so the server does not ask "Did you mean one
// of these?" again on submit. After the list changes, a "community:similar-shown" event goes to
// the form (the embed then tells the docs page its new height).
(function () {
  "use strict";
  function similarQuestions(form) {
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
      form.dispatchEvent(new CustomEvent("community:similar-shown", { bubbles: true }));
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
  document.querySelectorAll("form[data-similar-url]").forEach(similarQuestions);
})();
