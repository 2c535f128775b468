(function (w, d, C) {
  "use strict";
  // IAB TCF CMP API v2.3, answered from what the server knows (C) and kept current by the
  // banner's "consentgate:change" event. C = {tc, gdpr, shown, ads, id, ver, gvl, pol, cc, atps, ck, exp}
  if (w.__tcfapi && w.__tcfapi.consentgate) return;
  var A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  var tc = C.tc, listeners = {}, next = 1, last = tc || !C.gdpr ? "tcloaded" : "cmpuishown";
  var display = !C.gdpr ? "disabled" : C.shown ? "visible" : "hidden";

  function decode(s) {
    var b = "", p = 0, i;
    s = s.split(".")[0];
    for (i = 0; i < s.length; i++) b += ("00000" + A.indexOf(s.charAt(i)).toString(2)).slice(-6);
    function r(n) { var v = parseInt(b.substr(p, n), 2); p += n; return v; }
    function f(n) { var o = {}; for (var k = 1; k <= n; k++) o[k] = b.charAt(p + k - 1) === "1"; p += n; return o; }
    function v() {
      var max = r(16), o = {}, k, j;
      if (r(1)) {
        for (k = r(12); k > 0; k--) {
          var range = r(1), a = r(16), z = range ? r(16) : a;
          for (j = a; j <= z; j++) o[j] = true;
        }
      } else { o = f(max); }
      return o;
    }
    // SpecialFeatureOptIns starts at bit 140; PurposeOneTreatment and PublisherCC follow LI.
    p = 140;
    var sf = f(12), pc = f(24), pl = f(24);
    p += 13;
    var vc = v(), vl = v();
    return { sf: sf, pc: pc, pl: pl, vc: vc, vl: vl };
  }

  function data(status, id) {
    var x = tc ? decode(tc) : { sf: {}, pc: {}, pl: {}, vc: {}, vl: {} };
    var o = {
      tcString: C.gdpr ? (tc || "") : "", tcfPolicyVersion: C.pol, cmpId: C.id,
      cmpVersion: C.ver, gdprApplies: C.gdpr, eventStatus: status, cmpStatus: "loaded",
      isServiceSpecific: true, useNonStandardTexts: false, publisherCC: C.cc,
      purposeOneTreatment: false, purpose: { consents: x.pc, legitimateInterests: x.pl },
      vendor: { consents: x.vc, legitimateInterests: x.vl }, specialFeatureOptins: x.sf,
      publisher: { consents: {}, legitimateInterests: {}, customPurpose: { consents: {}, legitimateInterests: {} }, restrictions: {} },
      addtlConsent: "2~" + (C.ads ? C.atps : "") + "~dv." + C.atps,
      enableAdvertiserConsentMode: true
    };
    if (id !== undefined) o.listenerId = id;
    return o;
  }

  function ping() {
    return { gdprApplies: C.gdpr, cmpLoaded: true, cmpStatus: "loaded", displayStatus: display,
      apiVersion: "2.3", cmpVersion: C.ver, cmpId: C.id, gvlVersion: C.gvl, tcfPolicyVersion: C.pol };
  }

  function api(command, version, callback, param) {
    if (typeof callback !== "function") return;
    if (version !== undefined && version !== null && version !== 2) { callback(null, false); return; }
    if (command === "ping") callback(ping(), true);
    else if (command === "addEventListener") {
      var id = next++;
      listeners[id] = callback;
      callback(data(last, id), true);
    } else if (command === "removeEventListener") {
      var had = Object.prototype.hasOwnProperty.call(listeners, param);
      delete listeners[param];
      callback(had, had);
    } else if (command === "getTCData") callback(data(last), true);
    else callback(null, false);
  }
  api.consentgate = true;

  function store() {
    if (!C.gdpr || !tc) return;
    var now = d.cookie.match(new RegExp("(?:^|; )" + C.ck.replace(/[.-]/g, "\\$&") + "=([^;]*)"));
    if (now && now[1] === tc) return;
    var age = Math.max(0, Math.floor(C.exp - Date.now() / 1000));
    d.cookie = C.ck + "=" + tc + "; Path=/; Max-Age=" + age + "; SameSite=Lax" +
      (location.protocol === "https:" ? "; Secure" : "");
  }

  function notify(status) {
    last = status;
    for (var id in listeners) {
      if (Object.prototype.hasOwnProperty.call(listeners, id)) listeners[id](data(last, +id), true);
    }
  }

  d.addEventListener("consentgate:change", function (e) {
    var c = (e && e.detail) || {};
    if (!C.gdpr) return;
    tc = c.tc_string || tc;
    C.ads = (c.granted || []).indexOf("advertising") >= 0;
    display = "hidden";
    store();
    notify("useractioncomplete");
  });

  // The visitor reopens the dialog ("Privacy settings"): the CMP UI is shown again.
  d.addEventListener("click", function (e) {
    var t = e.target;
    if (!C.gdpr || !t || !t.closest || !t.closest("[data-consentgate-open]")) return;
    display = "visible";
    notify("cmpuishown");
  });

  // Frames ask through postMessage; they find this window by the __tcfapiLocator frame.
  w.addEventListener("message", function (e) {
    var json = typeof e.data === "string", msg = e.data;
    if (json) { try { msg = JSON.parse(e.data); } catch (err) { return; } }
    var call = msg && msg.__tcfapiCall;
    if (!call || typeof call !== "object" || !e.source) return;
    api(call.command, call.version, function (value, success) {
      var ret = { __tcfapiReturn: { returnValue: value, success: success, callId: call.callId } };
      e.source.postMessage(json ? JSON.stringify(ret) : ret, "*");
    }, call.parameter);
  });

  (function locator() {
    if (w.frames.__tcfapiLocator) return;
    if (!d.body) { setTimeout(locator, 5); return; }
    var f = d.createElement("iframe");
    f.style.display = "none";
    f.name = "__tcfapiLocator";
    f.title = "";
    f.setAttribute("aria-hidden", "true");
    f.tabIndex = -1;
    d.body.appendChild(f);
  })();

  w.__tcfapi = api;
  store();
})(window, document, /*CONFIG*/);
