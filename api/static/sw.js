/* Tocsin — the service worker that shows Web Push alerts (RFC 8030) on this device, even with the
   dashboard closed. The payload (adapters/notify/push.py) is decrypted by the browser; it names the alert
   and its acknowledgement page (/acquittement/…), which the notification opens: acknowledging there is
   one more tap, a confirmation, never the notification alone. */
"use strict";

self.addEventListener("push", function (event) {
  var data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = {body: event.data ? event.data.text() : ""}; }
  event.waitUntil(self.registration.showNotification(data.title || "Alerte Tocsin", {
    body: data.body || "",
    tag: data.tag || data.alert_id || "tocsin",
    renotify: true,
    requireInteraction: data.severity === "grave",
    data: {url: data.url || "/"}
  }));
});

self.addEventListener("notificationclick", function (event) {
  event.notification.close();
  var url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(self.clients.openWindow(url));
});
