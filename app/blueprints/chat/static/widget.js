// chatdock's widget: <script src="https://{client host}/widget.js" async></script>
// A launcher button that opens the client's chat page in an iframe (the host page's CSS
// and scripts cannot reach into it). data-position="left|right", data-color="#rrggbb",
// data-open="true". API: window.chatdock.open(), .close(), .identify(userId, userHash).
// The page gets a short-lived token bound to this site's origin (no API key in the page)
// and hands it to the iframe with postMessage aimed at the chat host's origin only.
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || window.chatdock) return;
  var base = new URL(script.src).origin;
  var position = script.dataset.position === "left" ? "left" : "right";
  var colourAttr = script.dataset.color || "";
  var openAtLoad = script.dataset.open === "true";
  var state = { open: false, token: null, userId: null, userHash: null, renew: null };
  var frame = null;
  var frameReady = false;
  var host, launcher, panel, config;

  function request(path, options) {
    return fetch(base + path, Object.assign({ credentials: "omit", mode: "cors" }, options || {}))
      .then(function (response) {
        return response.json().then(function (body) {
          if (!response.ok) {
            var message = (body.error && body.error.message) || "refused";
            throw new Error(message);
          }
          return body;
        });
      });
  }

  var storageKey = "chatdock:" + base + ":session";

  function keptSession() {
    try { return window.localStorage.getItem(storageKey); } catch (e) { return null; }
  }

  function keepSession(key) {
    try {
      if (key) window.localStorage.setItem(storageKey, key);
      else window.localStorage.removeItem(storageKey);
    } catch (e) { /* storage refused: the conversation lasts as long as the page */ }
  }

  function sendToken() {
    post({
      type: "chatdock:token",
      token: state.token.token,
      userId: state.token.user_id,
      sessionKey: keptSession(),
    });
  }

  function post(message) {
    if (frame && frameReady) frame.contentWindow.postMessage(message, base);
  }

  function fetchToken() {
    clearTimeout(state.renew);
    var body = state.userId ? { user_id: state.userId, user_hash: state.userHash } : {};
    return request("/widget/token", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    })
      .then(function (issued) {
        state.token = issued;
        sendToken();
        // Renew well before it expires (at 80% of its life).
        state.renew = setTimeout(fetchToken, issued.expires_in * 800);
      })
      .catch(function (error) {
        state.token = null;
        post({ type: "chatdock:error", message: error.message });
        if (window.console) console.warn("chatdock: " + error.message);
      });
  }

  function style(node, values) {
    Object.keys(values).forEach(function (name) { node.style.setProperty(name, values[name]); });
  }

  // A speech bubble, drawn (no emoji font or image needed).
  function icon() {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("width", "28");
    svg.setAttribute("height", "28");
    svg.setAttribute("aria-hidden", "true");
    var path = document.createElementNS(ns, "path");
    path.setAttribute("fill", "currentColor");
    path.setAttribute(
      "d",
      "M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4H4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2z"
    );
    svg.appendChild(path);
    return svg;
  }

  function build() {
    var accent = /^#[0-9a-fA-F]{6}$/.test(colourAttr) ? colourAttr : config.appearance.accent_color;
    host = document.createElement("div");
    host.setAttribute("data-chatdock", "");
    var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
    style(host, { position: "fixed", bottom: "20px", "z-index": "2147483000" });
    style(host, position === "left" ? { left: "20px" } : { right: "20px" });

    panel = document.createElement("div");
    style(panel, {
      display: "none", position: "absolute", bottom: "72px", width: "380px", height: "600px",
      "max-height": "calc(100vh - 110px)", "max-width": "calc(100vw - 40px)",
      "border-radius": "14px", overflow: "hidden", background: "#fff",
      "box-shadow": "0 12px 40px rgba(0,0,0,.25)",
    });
    style(panel, position === "left" ? { left: "0" } : { right: "0" });

    launcher = document.createElement("button");
    launcher.type = "button";
    launcher.setAttribute("aria-label", "Open the chat: " + config.appearance.display_name);
    launcher.setAttribute("aria-expanded", "false");
    launcher.appendChild(icon());
    style(launcher, {
      width: "56px", height: "56px", "border-radius": "50%", border: "0", cursor: "pointer",
      background: accent, color: "#fff", display: "flex", "align-items": "center",
      "justify-content": "center", "box-shadow": "0 6px 20px rgba(0,0,0,.25)", padding: "0",
    });
    launcher.addEventListener("click", function () { state.open ? close() : open(); });

    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(host);
    fitPhone();
    window.addEventListener("resize", fitPhone);
  }

  function fitPhone() {
    if (!panel) return;
    var phone = window.innerWidth <= 480;
    style(panel, phone
      ? { position: "fixed", inset: "0", width: "100vw", height: "100vh", "max-height": "none",
          "max-width": "none", "border-radius": "0", bottom: "auto" }
      : { position: "absolute", inset: "auto", bottom: "72px", width: "380px", height: "600px",
          "max-height": "calc(100vh - 110px)", "max-width": "calc(100vw - 40px)", "border-radius": "14px" });
    if (!phone) style(panel, position === "left" ? { left: "0" } : { right: "0" });
    style(launcher, { display: phone && state.open ? "none" : "flex" });
  }

  function ensureFrame() {
    if (frame) return;
    frame = document.createElement("iframe");
    frame.src = base + "/";
    frame.title = config.appearance.display_name;
    frame.setAttribute("allow", "clipboard-write");
    style(frame, { border: "0", width: "100%", height: "100%", display: "block" });
    frame.addEventListener("load", function () {
      frameReady = true;
      fetchToken();
    });
    panel.appendChild(frame);
  }

  function open() {
    if (!panel) { openAtLoad = true; return; }
    ensureFrame();
    state.open = true;
    panel.style.display = "block";
    launcher.setAttribute("aria-expanded", "true");
    fitPhone();
    post({ type: "chatdock:focus" });
  }

  function close() {
    if (!panel) return;
    state.open = false;
    panel.style.display = "none";
    launcher.setAttribute("aria-expanded", "false");
    fitPhone();
    launcher.focus();
  }

  function identify(userId, userHash) {
    state.userId = userId ? String(userId) : null;
    state.userHash = userHash ? String(userHash) : null;
    if (frame && frameReady) fetchToken();
  }

  window.addEventListener("message", function (event) {
    if (event.origin !== base || !frame || event.source !== frame.contentWindow) return;
    var data = event.data || {};
    if (data.type === "chatdock:close") close();
    else if (data.type === "chatdock:session") {
      keepSession(typeof data.sessionKey === "string" ? data.sessionKey : null);
    }
  });

  window.chatdock = { open: open, close: close, identify: identify };

  request("/config")
    .then(function (body) {
      config = body;
      if (document.body) build();
      else document.addEventListener("DOMContentLoaded", build);
      if (openAtLoad) {
        if (panel) open();
        else document.addEventListener("DOMContentLoaded", open);
      }
    })
    .catch(function (error) {
      if (window.console) console.warn("chatdock: this site may not show the chat (" + error.message + ")");
    });
})();
