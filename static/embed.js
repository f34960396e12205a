/* community embed loader. On a docs page:
     <div data-community-questions data-page-url="…" data-page-title="…"><a href="…/pages?url=…">Questions about this page</a></div>
     <script src="https://COMMUNITY/static/embed.js" async></script>
   It puts an iframe of the community's /embed route in each such element and sizes it to its
   content. Messages are accepted only from the community's origin and from our own frames. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !window.URLSearchParams) return;
  var app = new URL(script.src, location.href).origin;
  var mounted = [];

  function canonical() {
    var link = document.querySelector('link[rel="canonical"]');
    return (link && link.href) || location.href.split("#")[0];
  }

  function mount(el) {
    if (el.hasAttribute("data-community-mounted")) return;
    el.setAttribute("data-community-mounted", "");
    var params = new URLSearchParams();
    params.set("url", el.getAttribute("data-page-url") || canonical());
    params.set("title", el.getAttribute("data-page-title") || document.title);
    params.set("origin", location.origin);
    ["topic", "theme"].forEach(function (name) {
      var value = el.getAttribute("data-" + name);
      if (value) params.set(name, value);
    });
    var frame = document.createElement("iframe");
    frame.src = app + "/embed?" + params.toString();
    frame.title = "Questions and answers about this page";
    frame.loading = "lazy";
    frame.style.cssText = "display:block;width:100%;height:320px;border:0";
    var entry = { el: el, frame: frame, fallback: el.querySelector("a"), ready: false };
    // A frame that never says hello (refused, offline) gives way to the plain link.
    frame.addEventListener("load", function () {
      setTimeout(function () {
        if (!entry.ready) {
          frame.remove();
          if (entry.fallback) entry.fallback.hidden = false;
        }
      }, 3000);
    });
    el.appendChild(frame);
    mounted.push(entry);
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== app || !event.data || typeof event.data !== "object") return;
    for (var i = 0; i < mounted.length; i++) {
      var entry = mounted[i];
      if (entry.frame.contentWindow !== event.source) continue;
      var data = event.data;
      if (data.type === "community:ready") {
        entry.ready = true;
        if (entry.fallback) entry.fallback.hidden = true;
      } else if (data.type === "community:height" && typeof data.height === "number") {
        entry.frame.style.height = Math.max(80, Math.min(Math.ceil(data.height), 50000)) + "px";
      } else if (data.type === "community:scroll" && typeof data.top === "number") {
        var top = entry.frame.getBoundingClientRect().top + window.scrollY + data.top - 16;
        window.scrollTo({ top: Math.max(0, top), behavior: "smooth" });
      }
    }
  });

  function start() {
    var found = document.querySelectorAll("[data-community-questions]");
    for (var i = 0; i < found.length; i++) mount(found[i]);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
