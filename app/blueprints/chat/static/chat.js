// chatdock's chat page: streamed replies, the conversation kept across reloads, and
// Markdown rendered by building DOM nodes (textContent only: no HTML from the model ever
// reaches the page, links only http(s)). No inline script: CSP script-src 'self'.
(function () {
  "use strict";

  var config = JSON.parse(document.body.dataset.config || "{}");
  var log = document.getElementById("chat-log");
  var form = document.getElementById("chat-form");
  var input = document.getElementById("chat-input");
  var send = document.getElementById("chat-send");
  var notice = document.getElementById("chat-notice");
  var closeButton = document.getElementById("chat-close");
  var examples = document.getElementById("chat-examples");
  var embedded = window.parent !== window;
  var allowed = config.allowedOrigins || [];
  var parentOrigin = null;
  var widgetToken = null;
  var userId = null;
  var sessionKey = null;
  var busy = false;
  // Embedded, the session key is kept by widget.js in the customer page's own storage
  // (browsers may refuse storage to a third-party iframe); opened directly, here.
  var parentKey = null;
  var waiting = null; // a message typed before the conversation so far was shown
  var ready = false; // the conversation so far is shown (sending earlier would race it)

  if (/^#[0-9a-fA-F]{6}$/.test(config.accentColor || "")) {
    document.documentElement.style.setProperty("--accent", config.accentColor);
  }

  // --- Markdown, safely -------------------------------------------------------------

  function safeHref(url) {
    try {
      var parsed = new URL(url, "https://invalid.invalid/");
      if ((parsed.protocol === "http:" || parsed.protocol === "https:") && /^https?:\/\//i.test(url)) {
        return parsed.href;
      }
    } catch (e) { /* not a URL */ }
    return null;
  }

  // Inline spans: `code`, **bold**, *italic*, [text](url). Everything else is text.
  var INLINE = /(`[^`\n]+`)|(\*\*[^*\n]+\*\*)|(\*[^*\n]+\*)|(\[[^\]\n]+\]\([^)\s]+\))/;

  function appendInline(parent, text) {
    while (text) {
      var match = INLINE.exec(text);
      if (!match) {
        parent.appendChild(document.createTextNode(text));
        return;
      }
      if (match.index > 0) parent.appendChild(document.createTextNode(text.slice(0, match.index)));
      var token = match[0];
      var node;
      if (match[1]) {
        node = document.createElement("code");
        node.textContent = token.slice(1, -1);
      } else if (match[2]) {
        node = document.createElement("strong");
        appendInline(node, token.slice(2, -2));
      } else if (match[3]) {
        node = document.createElement("em");
        appendInline(node, token.slice(1, -1));
      } else {
        var close = token.indexOf("](");
        var label = token.slice(1, close);
        var href = safeHref(token.slice(close + 2, -1));
        if (href) {
          node = document.createElement("a");
          node.href = href;
          node.target = "_blank";
          node.rel = "noopener noreferrer nofollow";
          node.textContent = label;
        } else {
          node = document.createTextNode(label); // javascript:, data: ... : the text only
        }
      }
      parent.appendChild(node);
      text = text.slice(match.index + token.length);
    }
  }

  function renderMarkdown(target, source) {
    target.textContent = "";
    var lines = source.replace(/\r\n?/g, "\n").split("\n");
    var i = 0;
    var paragraph = [];
    function flush() {
      if (paragraph.length) {
        var p = document.createElement("p");
        paragraph.forEach(function (line, n) {
          if (n) p.appendChild(document.createElement("br"));
          appendInline(p, line);
        });
        target.appendChild(p);
        paragraph = [];
      }
    }
    while (i < lines.length) {
      var line = lines[i];
      if (/^```/.test(line)) {
        flush();
        var code = [];
        i++;
        while (i < lines.length && !/^```/.test(lines[i])) code.push(lines[i++]);
        i++;
        var pre = document.createElement("pre");
        var c = document.createElement("code");
        c.textContent = code.join("\n");
        pre.appendChild(c);
        target.appendChild(pre);
        continue;
      }
      var heading = /^(#{1,6})\s+(.*)$/.exec(line);
      if (heading) {
        flush();
        var h = document.createElement("p");
        h.className = "md-heading";
        var strong = document.createElement("strong");
        appendInline(strong, heading[2]);
        h.appendChild(strong);
        target.appendChild(h);
        i++;
        continue;
      }
      var bullet = /^\s*([-*]|\d+\.)\s+/.exec(line);
      if (bullet) {
        flush();
        var list = document.createElement(/\d/.test(bullet[1]) ? "ol" : "ul");
        while (i < lines.length && /^\s*([-*]|\d+\.)\s+/.test(lines[i])) {
          var li = document.createElement("li");
          appendInline(li, lines[i].replace(/^\s*([-*]|\d+\.)\s+/, ""));
          list.appendChild(li);
          i++;
        }
        target.appendChild(list);
        continue;
      }
      if (!line.trim()) flush();
      else paragraph.push(line);
      i++;
    }
    flush();
  }

  // --- the conversation -------------------------------------------------------------

  function addMessage(role, text) {
    var row = document.createElement("div");
    row.className = "msg msg-" + role;
    var bubble = document.createElement("div");
    bubble.className = "bubble";
    if (role === "assistant") renderMarkdown(bubble, text);
    else bubble.textContent = text;
    row.appendChild(bubble);
    log.appendChild(row);
    log.scrollTop = log.scrollHeight;
    return bubble;
  }

  function showNotice(text) {
    notice.textContent = text;
    notice.hidden = !text;
  }

  function storageKey() {
    return "chatdock:" + config.client + ":session";
  }

  function rememberSession(key) {
    sessionKey = key;
    if (userId) return; // an identified user's sessions are found by the server
    if (embedded) {
      if (parentOrigin) window.parent.postMessage({ type: "chatdock:session", sessionKey: key }, parentOrigin);
      return;
    }
    try { window.localStorage.setItem(storageKey(), key); } catch (e) { /* private mode */ }
  }

  function keptSession() {
    if (userId) return null;
    if (embedded) return parentKey;
    try { return window.localStorage.getItem(storageKey()); } catch (e) { return null; }
  }

  function forgetSession() {
    if (embedded) {
      if (parentOrigin) window.parent.postMessage({ type: "chatdock:session", sessionKey: null }, parentOrigin);
      return;
    }
    try { window.localStorage.removeItem(storageKey()); } catch (e) { /* ignore */ }
  }

  function headers(extra) {
    var all = extra || {};
    if (widgetToken) all["X-Chatdock-Widget"] = widgetToken;
    return all;
  }

  function loadHistory() {
    ready = false;
    var stored = keptSession();
    return fetch("/widget/history", {
      method: "POST",
      credentials: "omit",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify({ session_key: stored }),
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        Array.prototype.slice.call(log.querySelectorAll(".msg:not(.msg-welcome)")).forEach(
          function (node) { node.remove(); }
        );
        if (!body) return;
        sessionKey = body.session_key || null;
        if (!sessionKey && stored) forgetSession();
        body.messages.forEach(function (m) { addMessage(m.role, m.content); });
        if (body.messages.length && examples) examples.hidden = true;
      })
      .catch(function () { /* no history to show: a new conversation */ })
      .then(function () {
        ready = true;
        var queued = waiting;
        waiting = null;
        if (queued) sendMessage(queued);
      });
  }

  function setBusy(value) {
    busy = value;
    send.disabled = value;
    input.setAttribute("aria-busy", value ? "true" : "false");
  }

  function readEvents(response, onEvent) {
    var reader = response.body.getReader();
    var decoder = new TextDecoder();
    var buffer = "";
    function pump() {
      return reader.read().then(function (result) {
        if (result.done) return;
        buffer += decoder.decode(result.value, { stream: true });
        var end;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          var block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          var name = "message";
          var data = "";
          block.split("\n").forEach(function (line) {
            if (line.indexOf("event: ") === 0) name = line.slice(7);
            else if (line.indexOf("data: ") === 0) data += line.slice(6);
          });
          if (data) onEvent(name, JSON.parse(data));
        }
        return pump();
      });
    }
    return pump();
  }

  function sendMessage(text) {
    text = text.trim();
    if (!text || busy) return;
    if (!embedded && config.requiresToken) {
      showNotice("This assistant is available on its website.");
      return;
    }
    if (!ready || (config.requiresToken && !widgetToken)) {
      waiting = text; // sent once connected and the conversation so far is shown
      showNotice("Connecting…");
      return;
    }
    showNotice("");
    if (examples) examples.hidden = true;
    addMessage("user", text);
    input.value = "";
    var bubble = addMessage("assistant", "");
    bubble.parentNode.classList.add("msg-pending");
    var reply = "";
    setBusy(true);
    var body = { messages: [{ role: "user", content: text }], stream: true };
    if (sessionKey) body.session_key = sessionKey;
    fetch("/llm-client/", {
      method: "POST",
      credentials: "omit",
      headers: headers({ "Content-Type": "application/json" }),
      body: JSON.stringify(body),
    })
      .then(function (response) {
        if (!response.ok) {
          return response.json().then(function (error) {
            throw new Error((error.error && error.error.message) || "the chat failed");
          });
        }
        return readEvents(response, function (name, data) {
          if (name === "session") rememberSession(data.session_key);
          else if (name === "message") {
            reply += data.delta;
            renderMarkdown(bubble, reply);
            log.scrollTop = log.scrollHeight;
          } else if (name === "done") renderMarkdown(bubble, data.reply);
          else if (name === "error") throw new Error(data.error.message);
        });
      })
      .catch(function (error) {
        if (!reply) bubble.parentNode.remove();
        showNotice(error.message);
      })
      .then(function () {
        bubble.parentNode.classList.remove("msg-pending");
        setBusy(false);
        input.focus();
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    sendMessage(input.value);
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      sendMessage(input.value);
    }
  });
  if (examples) {
    examples.addEventListener("click", function (event) {
      if (event.target.classList.contains("example")) sendMessage(event.target.textContent);
    });
  }

  // --- inside the widget's iframe: the token and identity come from widget.js ----------

  if (embedded) {
    closeButton.hidden = false;
    closeButton.addEventListener("click", function () {
      if (parentOrigin) window.parent.postMessage({ type: "chatdock:close" }, parentOrigin);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && parentOrigin) {
        window.parent.postMessage({ type: "chatdock:close" }, parentOrigin);
      }
    });
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || allowed.indexOf(event.origin) < 0) return;
      var message = event.data || {};
      parentOrigin = event.origin;
      if (message.type === "chatdock:token") {
        var changedUser = (message.userId || null) !== userId || !widgetToken;
        widgetToken = message.token;
        userId = message.userId || null;
        parentKey = typeof message.sessionKey === "string" ? message.sessionKey : null;
        showNotice("");
        if (changedUser) loadHistory(); // then sends what was typed meanwhile
      } else if (message.type === "chatdock:error") {
        widgetToken = null;
        showNotice(String(message.message || "The chat is unavailable."));
        if (!config.requiresToken && !ready) loadHistory(); // open clients chat without one
      } else if (message.type === "chatdock:focus") {
        input.focus();
      }
    });
    if (config.requiresToken) showNotice("Connecting…");
  } else if (config.requiresToken) {
    showNotice("This assistant is available on its website.");
    send.disabled = true;
  } else {
    loadHistory();
  }
})();
