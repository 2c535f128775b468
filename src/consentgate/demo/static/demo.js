/* Hearthside Health demo: keep the ad labels and the demo panel in step with a choice made
   in the consent dialog (consentgate fires "consentgate:change"), without a reload. */
(function () {
  "use strict";
  function set(field, text) {
    var el = document.querySelector('[data-demo-panel] [data-field="' + field + '"]');
    if (el) el.textContent = text;
  }
  document.addEventListener("consentgate:change", function (event) {
    var c = event.detail || {};
    if (!c.ads) return;
    Array.prototype.forEach.call(document.querySelectorAll(".ad-slot"), function (slot) {
      slot.setAttribute("data-ad-mode", c.ads);
      var label = slot.querySelector(".ad-mode");
      if (label) { label.setAttribute("data-ad-mode", c.ads); label.textContent = c.ads; }
    });
    set("decided", c.decided ? "yes" : "no");
    set("granted", (c.granted || []).slice().sort().join(", "));
    set("ads", c.ads);
    set("analytics", c.analytics ? "on" : "off");
    set("consent_id", c.consent_id || "–");
  });
})();
