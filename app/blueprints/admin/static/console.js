// chatdock console: copy buttons, confirmations, live run logs, the streaming sandbox.
(() => {
  "use strict";
  const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || "";

  // Copy buttons: <button data-copy="#input-id">
  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const field = document.querySelector(button.dataset.copy);
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
      } catch {
        document.execCommand("copy");
      }
      button.textContent = "Copied";
    });
  });

  // Filters that apply on change: <select data-autosubmit> (no inline handlers: the CSP
  // runs scripts from our own files only).
  document.querySelectorAll("[data-autosubmit]").forEach((select) => {
    select.addEventListener("change", () => select.form.submit());
  });

  // Buttons that ask first: <button data-confirm="Sure?">
  document.querySelectorAll("[data-confirm]").forEach((button) => {
    button.addEventListener("click", (event) => {
      if (!window.confirm(button.dataset.confirm)) event.preventDefault();
    });
  });

  // A live run's log and status, polled until the run settles; then reload the page.
  // The log box follows the end while the run is live, unless the reader scrolled back
  // (then it stays where they are until they scroll to the end again).
  const log = document.getElementById("run-log");
  if (log && log.dataset.live === "true") {
    const atEnd = () => log.scrollHeight - log.scrollTop - log.clientHeight < 24;
    log.scrollTop = log.scrollHeight;
    const poll = async () => {
      const response = await fetch(log.dataset.stateUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) return setTimeout(poll, 4000);
      const state = await response.json();
      const follow = atEnd();
      log.textContent = state.log || "No output yet.";
      if (follow) log.scrollTop = log.scrollHeight;
      if (state.live) setTimeout(poll, 2000);
      else window.location.reload();
    };
    setTimeout(poll, 1500);
  }

  // The sandbox: POST the message, read the SSE stream, show deltas as they come.
  const form = document.getElementById("sandbox-form");
  if (form) {
    const box = document.getElementById("sandbox-log");
    const input = document.getElementById("sandbox-input");
    const send = document.getElementById("sandbox-send");
    let sessionKey = null;

    const bubble = (role, text) => {
      document.getElementById("sandbox-empty")?.remove();
      const div = document.createElement("div");
      div.className = `sandbox-msg ${role}`;
      div.dataset.role = role;
      div.textContent = text;
      box.appendChild(div);
      box.scrollTop = box.scrollHeight;
      return div;
    };

    document.getElementById("sandbox-reset").addEventListener("click", () => {
      sessionKey = null;
      box.replaceChildren();
    });

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      send.disabled = true;
      bubble("user", text);
      const reply = bubble("assistant", "");
      const body = { messages: [{ role: "user", content: text }], stream: true };
      if (sessionKey) body.session_key = sessionKey;
      try {
        const response = await fetch(box.dataset.chatUrl, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken },
          body: JSON.stringify(body),
        });
        if (!response.ok) {
          const error = await response.json().catch(() => ({}));
          throw new Error(error?.error?.message || `HTTP ${response.status}`);
        }
        const reader = response.body.getReader();
        const decoder = new TextDecoder();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += decoder.decode(value, { stream: true });
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const raw = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            let name = "message";
            let data = "";
            for (const line of raw.split("\n")) {
              if (line.startsWith("event: ")) name = line.slice(7);
              else if (line.startsWith("data: ")) data += line.slice(6);
            }
            const payload = data ? JSON.parse(data) : {};
            if (name === "session") sessionKey = payload.session_key;
            else if (name === "error") throw new Error(payload.error?.message || "error");
            else if (name === "done") reply.dataset.done = "true";
            else if (name === "tool") {
              const call = document.createElement("div");
              call.className = `sandbox-tool small text-body-secondary${payload.ok ? "" : " text-danger"}`;
              call.textContent = `tool ${payload.name}: ${payload.ok ? "ok" : "error"}`;
              box.insertBefore(call, reply);
            }
            else if (payload.delta) reply.textContent += payload.delta;
            box.scrollTop = box.scrollHeight;
          }
        }
      } catch (error) {
        reply.classList.add("error");
        reply.textContent = `Error: ${error.message}`;
      } finally {
        send.disabled = false;
        input.focus();
      }
    });
  }
})();

// Usage charts (account and client pages): requests and tokens per day, one line per
// client, drawn by the vendored Chart.js from the page's #usage-data JSON.
(() => {
  "use strict";
  const data = document.getElementById("usage-data");
  if (!data || typeof window.Chart === "undefined") return;
  const usage = JSON.parse(data.textContent);
  const draw = (canvasId, metric, title) => {
    const canvas = document.getElementById(canvasId);
    if (!canvas) return;
    const datasets = Object.entries(usage.clients).map(([name, series]) => ({
      label: name,
      data: series[metric],
      tension: 0.2,
    }));
    canvas.chart = new window.Chart(canvas, {
      type: "line",
      data: { labels: usage.days, datasets },
      options: {
        animation: false,
        plugins: { title: { display: true, text: title } },
        scales: { y: { beginAtZero: true } },
      },
    });
  };
  draw("usage-requests", "requests", "Requests per day");
  draw("usage-tokens", "tokens", "Tokens per day");
})();
