"""JavaScript the scanner runs in the pages it visits (read-only, except the cookie hook).

``COOKIE_HOOK`` runs in every frame before the page's own scripts and notes which script
writes which cookie (``document.cookie`` and the Cookie Store API); the others read a page's
state after it has loaded.
"""

from __future__ import annotations

__all__ = ["BANNER", "BANNER_CLOSED", "COOKIE_HOOK", "LINKS", "PAGE_STATE", "WRITES"]

# Runs in every frame before the page's scripts: notes which script writes which cookie.
COOKIE_HOOK = r"""
(() => {
  const desc = Object.getOwnPropertyDescriptor(Document.prototype, "cookie");
  if (!desc || !desc.set || window.__consentgateScan) return;
  const log = [];
  Object.defineProperty(window, "__consentgateScan", { value: log });
  const note = (name) => {
    try {
      const current = document.currentScript;
      let script = current && current.src ? current.src : "";
      if (!script) {
        const found = String(new Error().stack || "").match(/(https?:\/\/[^\s()]+?):\d+:\d+/);
        script = found ? found[1] : "";
      }
      if (log.length < 500) log.push([String(name).trim(), script]);
    } catch (e) {}
  };
  Object.defineProperty(Document.prototype, "cookie", {
    configurable: true,
    enumerable: desc.enumerable,
    get: desc.get,
    set(value) {
      note(String(value).split(";")[0].split("=")[0]);
      return desc.set.call(this, value);
    }
  });
  const store = window.CookieStore && window.CookieStore.prototype;
  if (store && store.set) {
    const set = store.set;
    store.set = function (first) {
      note(first && typeof first === "object" ? first.name : first);
      return set.apply(this, arguments);
    };
  }
})();
"""

# The cookie writes noted in a frame since the last read.
WRITES = "() => window.__consentgateScan ? window.__consentgateScan.splice(0) : []"

LINKS = """() => Array.from(document.querySelectorAll("a[href]"))
  .filter(a => !(a.relList && a.relList.contains("nofollow")) && !a.hasAttribute("download"))
  .map(a => a.href)"""

PAGE_STATE = """() => {
  const keys = (s) => { try { return Object.keys(s); } catch (e) { return []; } };
  const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
  const inert = Array.from(document.querySelectorAll(
      'script[type="text/plain"][data-consentgate-category]'))
    .map(s => [s.getAttribute("data-consentgate-src") || s.getAttribute("src") || "",
               s.getAttribute("data-consentgate-category")])
    .filter(p => p[0])
    .map(p => {
      try { return [new URL(p[0], location.href).href, p[1]]; } catch (e) { return null; }
    })
    .filter(Boolean);
  return {
    local: keys(window.localStorage),
    session: keys(window.sessionStorage),
    reopen: Array.from(document.querySelectorAll("[data-consentgate-open]")).some(shown),
    inert: inert,
  };
}"""

BANNER = """() => {
  const b = document.getElementById("consentgate-banner");
  if (!b) return null;
  const shown = (e) => !!e && e.getClientRects().length > 0
    && getComputedStyle(e).visibility !== "hidden";
  const first = document.getElementById("consentgate-first");
  const paint = (e) => {
    for (let n = e; n; n = n.parentElement) {
      const c = getComputedStyle(n).backgroundColor;
      if (c && c !== "transparent" && !/^rgba\\(.*,\\s*0\\)$/.test(c)) return c;
    }
    return "rgb(255, 255, 255)";
  };
  const probe = (id) => {
    const e = document.getElementById(id);
    if (!e) return null;
    const r = e.getBoundingClientRect(), s = getComputedStyle(e);
    return { width: r.width, height: r.height, color: s.color, background: paint(e),
             font_size: s.fontSize, font_weight: s.fontWeight, visible: shown(e),
             first_layer: !!first && first.contains(e) };
  };
  return {
    shown: !b.hidden && shown(b) && !!b.querySelector("form"),
    accept: probe("consentgate-accept"),
    reject: probe("consentgate-reject"),
    pre_ticked: Array.from(b.querySelectorAll('input[type="checkbox"]'))
      .filter(i => i.checked && !i.disabled).map(i => i.value || i.name),
  };
}"""

BANNER_CLOSED = """() => {
  const b = document.getElementById("consentgate-banner");
  return !b || b.hidden || b.getClientRects().length === 0;
}"""
