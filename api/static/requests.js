/* The « Demandes » page (api/routes/demandes.py), live: on a `request` event of the stream that concerns the
   requests shown, the part of the page that shows them (#requests-live) is read again from the server and
   replaced; the forms of the acts now possible (#request-acts) too, unless one is being filled in, so
   nothing being typed is lost. */
(function () {
  "use strict";

  var pending = null;

  function busy(area) {
    if (area.contains(document.activeElement) && document.activeElement !== document.body) { return true; }
    var fields = area.querySelectorAll("textarea, input[type=datetime-local]");
    for (var i = 0; i < fields.length; i++) { if (fields[i].value) { return true; } }
    return false;
  }

  function refresh() {
    var live = document.getElementById("requests-live");
    if (!live) { return; }
    fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (text) {
        if (!text) { return; }
        var doc = new DOMParser().parseFromString(text, "text/html");
        var fresh = doc.getElementById("requests-live");
        if (fresh) {
          live.innerHTML = fresh.innerHTML;
          live.setAttribute("data-updated", new Date().toISOString());
        }
        var acts = document.getElementById("request-acts");
        var freshActs = doc.getElementById("request-acts");
        if (acts && freshActs && !busy(acts)) { acts.innerHTML = freshActs.innerHTML; }
      })
      .catch(function () { /* the next event tries again */ });
  }

  function follow() {
    var live = document.getElementById("requests-live");
    if (!live || !window.EventSource) { return; }
    var src = new EventSource("/api/v1/stream");
    src.addEventListener("hello", function () { live.setAttribute("data-following", "1"); });
    src.addEventListener("request", function (ev) {
      var r = JSON.parse(ev.data);
      var shown = live.getAttribute("data-request");
      if (shown && shown !== r.id) { return; }
      // Several acts in a row (an answer and its « seen »): one reading for all.
      if (pending) { window.clearTimeout(pending); }
      pending = window.setTimeout(function () { pending = null; refresh(); }, 150);
    });
  }

  document.addEventListener("DOMContentLoaded", follow);
})();
