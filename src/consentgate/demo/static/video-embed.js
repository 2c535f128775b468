/* "VidStream" player, a stand-in for a third-party video embed such as YouTube's. consentgate
   loads this script only when the visitor allows functional cookies; it then replaces every
   video placeholder with the player. It plays nothing and never touches the network. */
(function () {
  "use strict";
  var d = document;

  function el(tag, className, text) {
    var e = d.createElement(tag);
    if (className) e.className = className;
    if (text) e.textContent = text;
    return e;
  }

  function mount(figure) {
    if (figure.hasAttribute("data-video-loaded")) return;
    figure.setAttribute("data-video-loaded", "");
    var title = figure.getAttribute("data-video-title") || "Video";
    var player = el("div", "video-player");
    player.setAttribute("role", "region");
    player.setAttribute("aria-label", "VidStream player: " + title);
    var screen = el("div", "video-screen");
    screen.appendChild(el("p", "video-screen-title", title));
    var button = el("button", "video-button", "Play");
    button.type = "button";
    var bar = el("div", "video-progress");
    var fill = el("span");
    bar.appendChild(fill);
    var status = el("p", "video-status", "VidStream player (demo: there is no real video)");
    status.setAttribute("aria-live", "polite");
    var timer = null, done = 0;
    button.addEventListener("click", function () {
      if (timer) {
        clearInterval(timer);
        timer = null;
        button.textContent = "Play";
        status.textContent = "Paused";
        return;
      }
      button.textContent = "Pause";
      status.textContent = "Playing (imagine the video here)";
      timer = setInterval(function () {
        done = (done + 2) % 102;
        fill.style.width = done + "%";
      }, 200);
      // The player remembers what was watched: a functional cookie, declared in the config.
      d.cookie = "vs_player=" + encodeURIComponent(figure.getAttribute("data-video-id") || "") +
        "; Path=/; Max-Age=2592000; SameSite=Lax";
    });
    screen.appendChild(button);
    player.appendChild(screen);
    player.appendChild(bar);
    player.appendChild(status);
    var placeholder = figure.querySelector(".video-placeholder");
    if (placeholder) figure.replaceChild(player, placeholder);
    else figure.insertBefore(player, figure.firstChild);
  }

  Array.prototype.forEach.call(d.querySelectorAll("[data-video-embed]"), mount);
})();
