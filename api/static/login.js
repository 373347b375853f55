// Demonstration login: suggest territories matching the typed text, for the chosen role.
(function () {
  "use strict";
  var input = document.getElementById("territory"), role = document.getElementById("role"),
      list = document.getElementById("territories");
  if (!input) return;
  var timer = null;
  function suggest() {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var q = input.value.trim();
      if (q.length < 2 || q.indexOf(":") >= 0) return;
      fetch("/connexion/territoires?role=" + encodeURIComponent(role.value) + "&q=" + encodeURIComponent(q))
        .then(function (r) { return r.json(); })
        .then(function (items) {
          list.innerHTML = "";
          items.forEach(function (t) {
            var o = document.createElement("option");
            o.value = t.territory; o.textContent = t.label; list.appendChild(o);
          });
        });
    }, 200);
  }
  input.addEventListener("input", suggest);
  role.addEventListener("change", function () {
    var defaults = {mayor: "35238", prefecture: "departement:35", sdis: "departement:35", zone: "zone:ouest",
                    national: "national:FR", analyst: "national:FR", auditor: "national:FR"};
    input.value = defaults[role.value] || "";
  });
})();
