/* consentgate banner: ES2017, no dependencies. The dialog is a real form; this adds the
   second layer, focus handling, choices without a page load, and the dialog itself on pages
   that carry only its empty element (the banner is not open there). */
(function () {
  "use strict";
  var d = document;
  var P = "consentgate-";
  // Bind only to what consentgate injected: this script element (read through the prototype,
  // so a page element named "currentScript" cannot stand in for it), its endpoint and grants,
  // and the dialog right after it. Page markup with look-alike ids is never trusted.
  var me = Object.getOwnPropertyDescriptor(Document.prototype, "currentScript").get.call(d);
  if (!me) return;
  var ENDPOINT = me.getAttribute("data-endpoint") || "";
  if (ENDPOINT.charAt(0) !== "/" || /^\/[\/\\]/.test(ENDPOINT)) return;
  var SERVER_GRANTED = (me.getAttribute("data-granted") || "").split(/\s+/).filter(Boolean);
  var SKIP = ["type", "nonce", "data-consentgate-category", "data-consentgate-src",
    "data-consentgate-type"];
  var banner, form, first, second, opener = null, inerted = [], granted = [], had = [];
  var modal = false, busy = false, loading = false, decided = false;

  // An element of our own dialog (ids are looked up inside it, not in the whole page).
  function el(id) { return banner ? banner.querySelector('[id="' + P + id + '"]') : null; }
  // The first element with our id after `from` in document order (ours come after the script).
  function after(from, id) {
    var all = d.querySelectorAll('[id="' + P + id + '"]');
    for (var i = 0; i < all.length; i++) {
      if (from.compareDocumentPosition(all[i]) & Node.DOCUMENT_POSITION_FOLLOWING) return all[i];
    }
    return null;
  }
  function words(s) { return (s || "").split(/\s+/).filter(Boolean); }
  function each(list, fn) { Array.prototype.forEach.call(list, fn); }
  function boxes() { return form.querySelectorAll('input[name="categories"]'); }

  function visible() {
    return Array.prototype.filter.call(
      banner.querySelectorAll("a[href],button,input,summary,select,textarea"),
      function (e) { return !e.disabled && e.getClientRects().length > 0; });
  }

  // banner.block_page = false: the page stays usable while the dialog is open.
  function blocks() { return !banner.hasAttribute("data-consentgate-nonblocking"); }

  // While the dialog is open everything else at body level is inert (unless non-blocking).
  function setInert(on) {
    each(inerted, function (e) { e.removeAttribute("inert"); });
    inerted = [];
    if (!blocks()) return;
    var box = banner;
    while (box.parentElement && box.parentElement !== d.body) box = box.parentElement;
    if (!on || box.parentElement !== d.body) return;
    each(d.body.children, function (e) {
      if (e !== box && !e.hasAttribute("inert")) { e.setAttribute("inert", ""); inerted.push(e); }
    });
  }

  function layer(two) {
    first.hidden = two;
    second.hidden = !two;
    var f = two ? visible()[0] : banner.querySelector("button");
    if (f) f.focus();
  }

  function show(two) {
    if (banner.hidden) {
      opener = d.activeElement;
      each(boxes(), function (b) { b.checked = granted.indexOf(b.value) >= 0; });
      banner.hidden = false;
    }
    setInert(true);
    layer(two);
  }

  function close() {
    banner.hidden = true;
    modal = false;
    setInert(false);
    var t = opener;
    opener = null;
    if (t && t !== d.body && d.contains(t) && t.focus) t.focus();
    else if (d.activeElement && d.activeElement.blur) d.activeElement.blur();
  }

  function consentMode(cm) {
    if (!cm) return;
    var w = window;
    if (typeof w.gtag === "function") w.gtag("consent", "update", cm);
    // gtag.js only reads Arguments objects from the dataLayer, not arrays.
    else if (w.dataLayer && w.dataLayer.push) (function () { w.dataLayer.push(arguments); })("consent", "update", cm);
  }

  function clone(old) {
    var s = d.createElement("script");
    each(old.attributes, function (a) { if (SKIP.indexOf(a.name) < 0) s.setAttribute(a.name, a.value); });
    var t = old.getAttribute("data-consentgate-type");
    var src = old.getAttribute("data-consentgate-src");
    if (t) s.setAttribute("type", t);
    if (old.nonce) s.nonce = old.nonce;
    if (src) s.setAttribute("src", src);
    if (s.hasAttribute("src")) { if (!old.hasAttribute("async")) s.async = false; }
    else s.text = old.text;
    return s;
  }

  // Activate inert tags of granted categories in document order; an inline tag waits for
  // the external ones before it (which keep their order among themselves with async=false).
  function activate(now) {
    var todo = Array.prototype.filter.call(
      d.querySelectorAll('script[type="text/plain"][data-consentgate-category]'),
      function (s) { return allowed(s.getAttribute("data-consentgate-category"), now); });
    release(now);
    var waits = [];
    (function next() {
      while (todo.length) {
        var old = todo[0];
        var external = old.hasAttribute("data-consentgate-src") || old.hasAttribute("src");
        if (!external && waits.length) {
          Promise.all(waits).then(next);
          waits = [];
          return;
        }
        todo.shift();
        var s = clone(old);
        if (external) waits.push(new Promise(function (ok) { s.onload = s.onerror = ok; }));
        if (old.parentNode) old.parentNode.replaceChild(s, old);
      }
    })();
  }

  function apply(data) {
    var c = data.consent || {};
    var now = c.granted || [];
    var lost = had.some(function (x) { return now.indexOf(x) < 0; });
    granted = now.slice();
    decided = !!c.decided;
    window.consentgateGranted = granted;
    banner.setAttribute("data-granted", now.join(" "));
    close();
    consentMode(c.google_consent_mode);
    if (!lost) activate(now);
    now.forEach(function (x) { if (had.indexOf(x) < 0) had.push(x); });
    d.dispatchEvent(new CustomEvent("consentgate:change", { detail: c }));
    // Tags that already ran cannot be stopped: reload so the page starts without them.
    if (lost) location.reload();
  }

  // The choice is never lost: without a working fetch, post the form the classic way.
  function fallback(action) {
    var i = d.createElement("input");
    i.type = "hidden";
    i.name = "action";
    i.value = action;
    form.appendChild(i);
    form.submit();
  }

  function send(action) {
    if (busy) return;
    busy = true;
    var cats = [];
    if (action === "save") each(boxes(), function (b) { if (b.checked) cats.push(b.value); });
    fetch(ENDPOINT, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ action: action, categories: cats })
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (data) { busy = false; apply(data); }, function () { fallback(action); });
  }

  function bind(dialog) {
    banner = dialog;
    form = banner.querySelector("form");
    first = el("first");
    second = el("second");
  }

  // A page whose banner is not open carries an empty dialog element: fetch the dialog when
  // the visitor opens the settings. Without it, the settings page does the same job.
  function load(then, href) {
    if (form) { then(); return; }
    if (loading) return;
    loading = true;
    var opened = d.activeElement;
    var url = ENDPOINT + "/dialog?next=" + encodeURIComponent(location.pathname + location.search);
    fetch(url, { credentials: "same-origin" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (markup) {
      var t = d.createElement("template");
      t.innerHTML = markup;
      var fresh = t.content.firstElementChild;
      if (!fresh || fresh.id !== P + "banner" || !fresh.querySelector("form")) throw new Error("dialog");
      banner.parentNode.replaceChild(fresh, banner);
      bind(fresh);
      loading = false;
      if (opened && opened.focus && d.activeElement !== opened) opened.focus();
      then();
    }).catch(function () {
      loading = false;
      location.href = safeHref(href) || ENDPOINT + "/settings";
    });
  }

  function onClick(e) {
    var t = e.target;
    if (!(t instanceof Element)) return;
    var o = t.closest("[data-consentgate-open]");
    if (o && !banner.contains(o)) {
      e.preventDefault();
      load(function () { show(true); }, o.getAttribute("href"));
      return;
    }
    var b = t.closest("button");
    if (!b || !banner.contains(b)) return;
    if (b.id === P + "customize") { e.preventDefault(); layer(true); }
    else if (b.hasAttribute("data-consentgate-back")) { e.preventDefault(); layer(false); }
    else if (b.name === "action") { e.preventDefault(); send(b.value); }
  }

  function onKey(e) {
    if (banner.hidden) return;
    if (e.key === "Escape" || e.key === "Esc") {
      e.preventDefault();
      // An undecided visitor must choose: Escape only moves focus to "Reject all".
      if (!modal) { close(); return; }
      if (first.hidden) layer(false);
      el("reject").focus();
    } else if (e.key === "Tab" && blocks()) {
      var f = visible();
      if (!f.length) return;
      var a = f[0], z = f[f.length - 1], at = d.activeElement;
      var out = !banner.contains(at);
      if (e.shiftKey && (at === a || out)) { e.preventDefault(); z.focus(); }
      else if (!e.shiftKey && (at === z || out)) { e.preventDefault(); a.focus(); }
    }
  }

  // A same-origin path only: a page element cannot send the visitor elsewhere through us.
  function safeHref(href) {
    return href && href.charAt(0) === "/" && !/^\/[\/\\]/.test(href) ? href : "";
  }

  // --- fail-closed: held-back URLs and click-to-load embeds ---------------------------------
  // A category list is met when every word is granted; "!x" when the visitor has chosen
  // without x (what a refusal serves, as after a reload).
  var HELD = ["src", "srcset", "imagesrcset", "href", "poster", "background", "data", "ping",
    "srcdoc", "xlink-href"];

  function allowed(cats, now) {
    var list = words(cats);
    return list.length > 0 && list.every(function (w) {
      return w.charAt(0) === "!" ? decided && now.indexOf(w.slice(1)) < 0 : now.indexOf(w) >= 0;
    });
  }

  function embed(box, focus) {
    var t = box.querySelector("template[data-consentgate-template]");
    if (!t || !box.parentNode) return;
    var content = d.importNode(t.content, true);
    var frame = content.firstElementChild;
    box.parentNode.replaceChild(content, box);
    if (focus && frame && frame.focus) frame.focus();
  }

  function restore(e) {
    HELD.forEach(function (a) {
      var v = e.getAttribute("data-consentgate-" + a);
      if (v === null) return;
      e.removeAttribute("data-consentgate-" + a);
      e.setAttribute(a === "xlink-href" ? "href" : a, v);  // SVG 2 reads a plain href
    });
    e.removeAttribute("data-consentgate-category");
  }

  function release(now) {
    // What only a refusal serves can no longer apply once the category is granted.
    each(d.querySelectorAll('script[type="text/plain"][data-consentgate-category*="!"]'), function (s) {
      var moot = words(s.getAttribute("data-consentgate-category")).some(function (w) {
        return w.charAt(0) === "!" && decided && now.indexOf(w.slice(1)) >= 0;
      });
      if (moot && s.parentNode) s.parentNode.removeChild(s);
    });
    each(d.querySelectorAll("[data-consentgate-embed][data-consentgate-category]"), function (box) {
      if (allowed(box.getAttribute("data-consentgate-category"), now)) embed(box, false);
    });
    each(d.querySelectorAll("[data-consentgate-category]:not(script):not([data-consentgate-embed])"),
      function (e) { if (allowed(e.getAttribute("data-consentgate-category"), now)) restore(e); });
    // An SVG script only runs when inserted with its href: insert a fresh one.
    each(d.querySelectorAll("script[data-consentgate-category]"), function (old) {
      if (!(old instanceof SVGElement) || !allowed(old.getAttribute("data-consentgate-category"), now)) return;
      var s = d.createElementNS(old.namespaceURI, "script");
      each(old.attributes, function (a) { if (a.name.indexOf("data-consentgate-") !== 0) s.setAttribute(a.name, a.value); });
      var href = old.getAttribute("data-consentgate-href") || old.getAttribute("data-consentgate-xlink-href");
      if (href) s.setAttribute("href", href);
      else s.textContent = old.textContent;
      old.parentNode.replaceChild(s, old);
    });
  }

  function onEmbedClick(e) {
    var t = e.target;
    if (!(t instanceof Element)) return;
    var b = t.closest("[data-consentgate-load],[data-consentgate-allow]");
    var box = b && b.closest("[data-consentgate-embed]");
    if (!box) return;
    e.preventDefault();
    if (b.hasAttribute("data-consentgate-load")) { embed(box, true); return; }
    var cats = granted.slice();
    words(box.getAttribute("data-consentgate-category")).forEach(function (c) {
      if (c.charAt(0) !== "!" && cats.indexOf(c) < 0) cats.push(c);
    });
    var link = box.querySelector("a[href]");
    fetch(ENDPOINT, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ action: "save", categories: cats })
    }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.json();
    }).then(function (data) {
      if (banner) apply(data);
      else { granted = (data.consent || {}).granted || cats; decided = true; activate(granted); }
    }, function () { location.href = safeHref(link && link.getAttribute("href")) || ENDPOINT + "/settings"; });
  }

  d.addEventListener("click", onEmbedClick);
  // --- end of fail-closed block ------------------------------------------------------------

  function init() {
    var dialog = me.nextElementSibling;
    if (!dialog || dialog.id !== P + "banner") dialog = after(me, "banner");
    if (!dialog) return;
    bind(dialog);
    granted = SERVER_GRANTED.slice();
    had = granted.slice();
    // The site's own inert scripts of already granted categories run on every page.
    window.consentgateGranted = granted;
    activate(granted);
    // A page with its own data-consentgate-open element does not need our link as well.
    var own = after(banner, "reopen");
    if (own && d.querySelectorAll("[data-consentgate-open]").length > 1) own.parentElement.hidden = true;
    d.addEventListener("click", onClick);
    d.addEventListener("keydown", onKey);
    if (!banner.hidden) {
      modal = true;
      opener = d.activeElement;
      setInert(true);
      layer(false);
    }
  }

  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", init);
  else init();
})();
