/* Tocsin — « Recevoir les alertes sur cet appareil »: subscribes this browser to Web Push with the
   server's VAPID key (GET /api/v1/push/key) through the service worker /static/sw.js, and records the
   subscription in the directory for the person logged in (POST /api/v1/push/subscriptions, with the CSRF
   token of /notifications/jeton). Shown only where the browser and the server both support push. */
(function () {
  "use strict";

  var HEADERS = {"X-Tocsin-Client": "tableau-de-bord"};

  function bytes(base64url) {
    var padded = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    var raw = atob(padded);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }

  function send(path, body) {
    return fetch("/notifications/jeton", {credentials: "same-origin", headers: HEADERS}).then(function (r) {
      return r.json();
    }).then(function (t) {
      return fetch(path, {method: "POST", credentials: "same-origin", body: JSON.stringify(body),
        headers: Object.assign({"Content-Type": "application/json", "X-Tocsin-CSRF": t.csrf}, HEADERS)});
    }).then(function (r) {
      return r.json().then(function (b) { if (!r.ok) { throw new Error(b.detail || "refus"); } return b; });
    });
  }

  function setup(key) {
    var panel = document.getElementById("alerts-panel");
    if (!panel) { return; }
    var box = document.createElement("p");
    box.id = "push-subscription";
    box.innerHTML = '<button type="button" class="fr-btn fr-btn--sm fr-btn--secondary" id="push-toggle"></button> ' +
      '<span class="fr-text--xs" id="push-state" role="status"></span>';
    panel.appendChild(box);
    var button = document.getElementById("push-toggle");
    var state = document.getElementById("push-state");
    var registration = null;
    var current = null;

    function show() {
      button.textContent = current ? "Ne plus recevoir les alertes sur cet appareil" : "Recevoir les alertes sur cet appareil";
      button.disabled = false;
    }

    navigator.serviceWorker.register("/static/sw.js", {scope: "/static/"}).then(function (reg) {
      registration = reg;
      return reg.pushManager.getSubscription();
    }).then(function (sub) { current = sub; show(); }).catch(function () { box.hidden = true; });

    button.addEventListener("click", function () {
      button.disabled = true;
      if (current) {
        var endpoint = current.endpoint;
        current.unsubscribe().then(function () {
          return send("/api/v1/push/subscriptions/removal", {endpoint: endpoint});
        }).then(function () {
          current = null; state.textContent = "Cet appareil ne reçoit plus les alertes."; show();
        }).catch(function (e) { state.textContent = "Désabonnement impossible : " + e.message; show(); });
        return;
      }
      Notification.requestPermission().then(function (permission) {
        if (permission !== "granted") { throw new Error("notifications refusées par le navigateur"); }
        return registration.pushManager.subscribe({userVisibleOnly: true, applicationServerKey: bytes(key)});
      }).then(function (sub) {
        current = sub;
        return send("/api/v1/push/subscriptions", sub.toJSON());
      }).then(function () {
        state.textContent = "Cet appareil recevra les alertes qui vous concernent."; show();
      }).catch(function (e) { state.textContent = "Abonnement impossible : " + e.message; show(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) { return; }
    fetch("/api/v1/push/key", {credentials: "same-origin", headers: HEADERS}).then(function (r) {
      return r.ok ? r.json() : {};
    }).then(function (body) {
      // alerts.js builds the panel on the same event: wait for it to be there.
      if (body.application_server_key) { setTimeout(function () { setup(body.application_server_key); }, 0); }
    });
  });
})();
