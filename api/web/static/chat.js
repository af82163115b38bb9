/* 智电客服 — customer chat page. Plain JS, no build step, no external assets.
 *
 * Talks to WS /ws/chat/{sender_id} (protocol documented in api/channels/web.py) and reads
 * GET /api/chat/{sender_id}/history on load and after a reconnect.
 */
(function () {
  "use strict";

  var STORAGE_KEY = "zhidian.sender_id";
  var SENDER_RE = /^[A-Za-z0-9_.:-]{1,64}$/;
  var PING_MS = 25000;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var NEAR_BOTTOM_PX = 160;
  var REPLY_TIMEOUT_MS = parseInt(document.body.getAttribute("data-reply-timeout-ms"), 10) || 8000;

  var WELCOME_TEXT = "您好！我是智电客服，很高兴为您服务。\n您可以直接输入问题，也可以点击下方常用服务：";
  var QUICK_REPLIES = ["查电费", "报停电", "停电通知", "工单进度", "转人工"];
  var SLOW_NOTICE = "回复稍有延迟，您的消息已保留，请稍候…";
  var HISTORY_FAILED = "历史记录暂时无法加载，不影响继续咨询。";

  var els = {
    messages: document.getElementById("messages"),
    form: document.getElementById("composer"),
    input: document.getElementById("input"),
    send: document.getElementById("send"),
    banner: document.getElementById("banner"),
    status: document.getElementById("status"),
    statusText: document.getElementById("status-text")
  };

  var senderId = loadSenderId();
  var socket = null;
  var everConnected = false;
  var attempts = 0;
  var reconnectTimer = null;
  var pingTimer = null;
  var lastFrameAt = 0;
  var lastServerAt = 0; // ms of the newest server time seen (frames and history)
  var pending = new Map(); // client_msg_id -> {id, text, row, state, timer, slow, sent}
  var payloadTitles = new Map(); // button payload -> title, to never show a raw payload
  var typingRow = null;

  // ---------- ids and time ----------

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      try { return window.crypto.randomUUID(); } catch (e) { /* insecure context */ }
    }
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function loadSenderId() {
    var id = null;
    try { id = window.localStorage.getItem(STORAGE_KEY); } catch (e) { /* storage disabled */ }
    if (!id || !SENDER_RE.test(id)) {
      id = "web-" + uuid();
      try { window.localStorage.setItem(STORAGE_KEY, id); } catch (e) { /* session only */ }
    }
    return id;
  }

  var timeFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false
  });
  var dayFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit"
  });

  function parseTime(value) {
    if (!value) return Date.now();
    var ms = Date.parse(value);
    return isNaN(ms) ? Date.now() : ms;
  }

  function formatTime(ms) {
    var d = new Date(ms);
    var time = timeFmt.format(d);
    var day = dayFmt.format(d);
    if (day === dayFmt.format(new Date())) return time;
    var parts = day.split(/\D+/).filter(Boolean); // yyyy mm dd
    return parseInt(parts[1], 10) + "月" + parseInt(parts[2], 10) + "日 " + time;
  }

  function seenServerTime(value) {
    if (!value) return;
    var ms = Date.parse(value);
    if (!isNaN(ms) && ms > lastServerAt) lastServerAt = ms;
  }

  // ---------- DOM helpers ----------

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  function isNearBottom() {
    var m = els.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < NEAR_BOTTOM_PX;
  }

  function scrollToBottom(force) {
    if (force || isNearBottom()) {
      els.messages.scrollTop = els.messages.scrollHeight;
    }
  }

  function append(node, force) {
    var stick = force || isNearBottom();
    if (typingRow && typingRow.parentNode === els.messages) {
      els.messages.insertBefore(node, typingRow);
    } else {
      els.messages.appendChild(node);
    }
    if (stick) scrollToBottom(true);
    return node;
  }

  function avatarFor(sender) {
    var a = el("div", "avatar");
    a.setAttribute("aria-hidden", "true");
    if (sender === "agent") {
      a.textContent = "人";
    } else {
      a.innerHTML = '<svg viewBox="0 0 24 24" width="18" height="18"><path d="M13.5 2 4.5 13.5h6L9 22l10.5-12.5h-6.2z" fill="currentColor"/></svg>';
    }
    return a;
  }

  function safeImageUrl(src) {
    if (typeof src !== "string" || !src) return null;
    try {
      var url = new URL(src, window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) { return null; }
  }

  // ---------- rendering ----------

  /* One row of answers from the bot or an agent.
   * items: [{text, buttons: [{title, payload}], image}]; opts: {at, menu, chosenPayload, closed} */
  function renderAnswer(sender, items, opts) {
    opts = opts || {};
    var row = el("div", "row row--" + (sender === "agent" ? "agent" : "bot"));
    row.appendChild(avatarFor(sender));
    var stack = el("div", "stack");
    if (sender === "agent") stack.appendChild(el("div", "who", "人工客服"));
    items.forEach(function (item) {
      if (item.text) {
        var bubble = el("div", "bubble", item.text);
        if (opts.welcome) bubble.classList.add("welcome-card");
        stack.appendChild(bubble);
      }
      var src = safeImageUrl(item.image);
      if (src) {
        var pic = el("div", "bubble bubble--image");
        var img = document.createElement("img");
        img.alt = "图片";
        img.loading = "lazy";
        img.src = src;
        img.addEventListener("load", function () { scrollToBottom(false); });
        pic.appendChild(img);
        stack.appendChild(pic);
      }
      if (item.buttons && item.buttons.length) {
        stack.appendChild(renderButtons(item.buttons, opts));
      }
    });
    if (opts.at) stack.appendChild(metaLine(opts.at));
    row.appendChild(stack);
    return row;
  }

  function renderButtons(buttons, opts) {
    var group = el("div", "buttons" + (opts.menu ? " buttons--menu" : ""));
    group.setAttribute("role", "group");
    if (!opts.menu) group.setAttribute("data-reply-buttons", "");
    buttons.forEach(function (b) {
      if (!b || !b.title) return;
      var payload = b.payload != null && b.payload !== "" ? String(b.payload) : String(b.title);
      payloadTitles.set(payload, String(b.title));
      var chip = el("button", "chip", b.title);
      chip.type = "button";
      chip.setAttribute("data-payload", payload);
      if (opts.closed) {
        chip.disabled = true;
        if (opts.chosenPayload === payload) chip.classList.add("chip--chosen");
      }
      chip.addEventListener("click", function () {
        if (chip.disabled) return;
        if (opts.menu) {
          // menu chips stay usable; a double tap must not ask twice
          var now = Date.now();
          if (now - (Number(chip.getAttribute("data-clicked-at")) || 0) < 1000) return;
          chip.setAttribute("data-clicked-at", String(now));
        } else {
          chip.classList.add("chip--chosen");
        }
        sendMessage(payload, String(b.title));
      });
      group.appendChild(chip);
    });
    return group;
  }

  function metaLine(at, stateText) {
    var meta = el("div", "meta");
    var state = el("span", "state", stateText || "");
    if (!stateText) state.hidden = true;
    meta.appendChild(state);
    var t = el("time", null, formatTime(at));
    t.dateTime = new Date(at).toISOString();
    meta.appendChild(t);
    return meta;
  }

  function renderCustomer(display, at, stateText) {
    var row = el("div", "row row--customer");
    var stack = el("div", "stack");
    stack.appendChild(el("div", "bubble", display));
    stack.appendChild(metaLine(at, stateText));
    row.appendChild(stack);
    return row;
  }

  function setRowState(row, text, failed) {
    if (!row) return;
    var state = row.querySelector(".state");
    if (!state) return;
    state.textContent = text || "";
    state.hidden = !text;
    state.classList.toggle("state--failed", !!failed);
  }

  function notice(text, kind) {
    var box = el("div", "notice" + (kind ? " notice--" + kind : ""));
    box.setAttribute("role", kind === "error" ? "alert" : "status");
    box.appendChild(el("span", null, text));
    return box;
  }

  /* Buttons under earlier answers stop working once the customer has moved on. */
  function closeReplyButtons() {
    var groups = els.messages.querySelectorAll("[data-reply-buttons]");
    Array.prototype.forEach.call(groups, function (g) {
      Array.prototype.forEach.call(g.querySelectorAll(".chip"), function (c) { c.disabled = true; });
      g.removeAttribute("data-reply-buttons");
    });
  }

  function showTyping() {
    if (!typingRow) {
      typingRow = el("div", "row row--bot typing");
      typingRow.appendChild(avatarFor("bot"));
      var stack = el("div", "stack");
      var bubble = el("div", "bubble");
      bubble.setAttribute("aria-label", "正在输入");
      var dots = el("span", "dots");
      dots.innerHTML = "<i></i><i></i><i></i>";
      bubble.appendChild(dots);
      bubble.appendChild(el("span", null, "正在输入…"));
      stack.appendChild(bubble);
      typingRow.appendChild(stack);
    }
    var stick = isNearBottom();
    els.messages.appendChild(typingRow);
    if (stick) scrollToBottom(true);
  }

  function hideTyping() {
    if (typingRow && typingRow.parentNode) typingRow.parentNode.removeChild(typingRow);
  }

  function renderWelcome() {
    append(renderAnswer("bot", [{ text: WELCOME_TEXT, buttons: QUICK_REPLIES.map(function (t) {
      return { title: t, payload: t };
    }) }], { menu: true, welcome: true }), true);
  }

  /* History turns → rows. Consecutive answers of one sender form one row. */
  function renderHistory(turns) {
    var i = 0;
    while (i < turns.length) {
      var turn = turns[i];
      seenServerTime(turn.at);
      if (turn.sender === "customer") {
        var display = displayFor(turn.text);
        if (display) {
          closeReplyButtons();
          markChosen(turn.text);
          append(renderCustomer(display, parseTime(turn.at)), true);
        }
        i += 1;
      } else if (turn.sender === "system") {
        if (turn.text) append(notice(turn.text, "system"), true);
        i += 1;
      } else {
        var sender = turn.sender === "agent" ? "agent" : "bot";
        var items = [];
        var at = turn.at;
        while (i < turns.length && (turns[i].sender === "agent" ? "agent" : "bot") === sender &&
               turns[i].sender !== "customer" && turns[i].sender !== "system") {
          items.push({ text: turns[i].text, buttons: turns[i].buttons || [], image: turns[i].image });
          at = turns[i].at;
          seenServerTime(at);
          i += 1;
        }
        append(renderAnswer(sender, items, { at: parseTime(at) }), true);
      }
    }
  }

  /* What the customer's bubble shows for words that may be a button payload. */
  function displayFor(text) {
    if (text == null) return null;
    text = String(text);
    if (payloadTitles.has(text)) return payloadTitles.get(text);
    if (text.charAt(0) === "/") return null; // an internal command: never show it raw
    return text;
  }

  /* The gateway stores a click as the button's title; older turns may hold the payload. */
  function markChosen(said) {
    var chips = els.messages.querySelectorAll(".buttons:not(.buttons--menu) .chip");
    for (var k = chips.length - 1; k >= 0; k -= 1) {
      if (chips[k].getAttribute("data-payload") === said || chips[k].textContent === said) {
        chips[k].classList.add("chip--chosen");
        return;
      }
    }
  }

  // ---------- sending ----------

  function sendMessage(text, display) {
    text = String(text);
    if (!text.trim()) return;
    var shown = display != null ? display : text;
    closeReplyButtons();
    var p = {
      id: uuid(),
      text: text,
      row: null,
      sent: false,
      timer: null,
      slow: null
    };
    p.row = append(renderCustomer(shown, Date.now(), "发送中"), true);
    pending.set(p.id, p);
    p.timer = window.setTimeout(function () { onSlow(p); }, REPLY_TIMEOUT_MS);
    if (transmit(p)) showTyping(); // offline: no one is typing yet; the banner says why
  }

  function transmit(p) {
    if (socket && socket.readyState === WebSocket.OPEN) {
      try {
        socket.send(JSON.stringify({ type: "message", text: p.text, client_msg_id: p.id }));
        p.sent = true;
        setRowState(p.row, "发送中");
        return true;
      } catch (e) { /* falls through: resent on reconnect */ }
    }
    setRowState(p.row, "等待网络");
    return false;
  }

  function onSlow(p) {
    p.timer = null;
    if (!pending.has(p.id) || p.slow) return;
    p.slow = notice(SLOW_NOTICE, "slow");
    if (p.row && p.row.nextSibling) {
      els.messages.insertBefore(p.slow, p.row.nextSibling);
    } else {
      append(p.slow);
    }
    scrollToBottom(false);
  }

  function settle(id) {
    var p = id ? pending.get(id) : null;
    if (!p) return null;
    pending.delete(id);
    if (p.timer) window.clearTimeout(p.timer);
    if (p.slow && p.slow.parentNode) p.slow.parentNode.removeChild(p.slow);
    if (pending.size === 0) hideTyping();
    return p;
  }

  // ---------- socket ----------

  function socketUrl() {
    var proto = window.location.protocol === "https:" ? "wss:" : "ws:";
    return proto + "//" + window.location.host + "/ws/chat/" + encodeURIComponent(senderId);
  }

  function setStatus(state) {
    els.status.setAttribute("data-state", state);
    els.statusText.textContent = state === "online" ? "在线 · 智能客服为您服务" :
      state === "offline" ? "连接中断" : "连接中…";
  }

  function connect() {
    if (reconnectTimer) { window.clearTimeout(reconnectTimer); reconnectTimer = null; }
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
    var ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onopen = function () {
      if (socket !== ws) return;
      attempts = 0;
      setStatus("online");
      els.banner.hidden = true;
      var reconnected = everConnected;
      everConnected = true;
      lastFrameAt = Date.now();
      pingTimer = window.setInterval(function () {
        // A socket that has heard nothing, not even a pong, for two rounds is dead (a silent
        // network drop never fires onclose): give up on it and reconnect.
        if (Date.now() - lastFrameAt > 2 * PING_MS + 5000) { lost(ws); return; }
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
      var flush = function () {
        // Resend everything still unanswered, oldest first, with the same client_msg_id.
        pending.forEach(function (p) { transmit(p); });
        if (pending.size) showTyping();
      };
      if (reconnected) catchUp().then(flush, flush); else flush();
    };
    ws.onmessage = function (event) {
      if (socket !== ws) return;
      lastFrameAt = Date.now();
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame && typeof frame === "object") onFrame(frame);
    };
    ws.onclose = function () { lost(ws); };
  }

  function lost(ws) {
    if (socket !== ws) return;
    socket = null;
    try { ws.close(); } catch (e) { /* already closed */ }
    if (pingTimer) { window.clearInterval(pingTimer); pingTimer = null; }
    hideTyping();
    pending.forEach(function (p) { setRowState(p.row, "等待网络"); });
    setStatus("offline");
    els.banner.hidden = false;
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    var base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, attempts));
    var delay = Math.round(base * (0.6 + Math.random() * 0.4));
    attempts += 1;
    reconnectTimer = window.setTimeout(function () { reconnectTimer = null; connect(); }, delay);
  }

  function reconnectNow() {
    if (!socket) { attempts = 0; connect(); }
  }

  function onFrame(frame) {
    seenServerTime(frame.at);
    if (frame.type === "typing") {
      var tp = frame.client_msg_id ? pending.get(frame.client_msg_id) : null;
      if (tp) setRowState(tp.row, "");
      showTyping();
    } else if (frame.type === "reply") {
      var p = settle(frame.client_msg_id);
      // An agent owns the conversation: the gateway answers nothing now, the agent will.
      if (p) setRowState(p.row, frame.handled_by === "agent" && !(frame.messages || []).length ? "已送达" : "");
      var messages = Array.isArray(frame.messages) ? frame.messages : [];
      if (frame.handled_by === "system") {
        // A ticket progress notice (抢修人员已接单 …): shown as the history shows it after a reload.
        messages.forEach(function (m) { if (m.text) append(notice(m.text, "system"), false); });
      } else if (frame.handled_by === "fallback" && messages.every(function (m) { return !(m.buttons || []).length && !m.image; })) {
        // The gateway answered for a bot that is down; the history keeps it as a system turn,
        // so show it the same way now and after a reload.
        messages.forEach(function (m) { if (m.text) append(notice(m.text, "system"), !!p); });
      } else if (messages.length) {
        var sender = frame.handled_by === "agent" ? "agent" : "bot";
        append(renderAnswer(sender, messages, { at: parseTime(frame.at) }), !!p);
      }
      if (!p && pending.size === 0) hideTyping();
    } else if (frame.type === "error") {
      var ep = settle(frame.client_msg_id);
      if (ep) setRowState(ep.row, "未送达", true);
      var box = notice(frame.message || "消息发送失败，请稍后再试。", "error");
      if (ep && ep.row && ep.row.parentNode === els.messages) {
        els.messages.insertBefore(box, ep.row.nextSibling);
        scrollToBottom(false);
      } else {
        append(box, true);
      }
    }
    // "pong" and unknown frames: nothing to show
  }

  // ---------- history ----------

  function fetchHistory() {
    var url = "/api/chat/" + encodeURIComponent(senderId) + "/history";
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, 6000) : null;
    return window.fetch(url, {
      headers: { Accept: "application/json" },
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    }).then(function (res) {
      if (timer) window.clearTimeout(timer);
      if (res.status === 404) return { turns: [] };
      if (!res.ok) throw new Error("history " + res.status);
      return res.json();
    }, function (err) {
      if (timer) window.clearTimeout(timer);
      throw err;
    }).then(function (data) {
      return (data && Array.isArray(data.turns)) ? data.turns : [];
    });
  }

  /* After a reconnect: show what agents or the system said while the socket was down.
   * Bot answers come back through the resent messages instead. */
  function catchUp() {
    var since = lastServerAt;
    return fetchHistory().then(function (turns) {
      var missed = turns.filter(function (t) {
        return (t.sender === "agent" || t.sender === "system") && parseTime(t.at) > since;
      });
      missed.forEach(function (t) { seenServerTime(t.at); });
      var i = 0;
      while (i < missed.length) {
        if (missed[i].sender === "system") {
          if (missed[i].text) append(notice(missed[i].text, "system"));
          i += 1;
          continue;
        }
        var items = [];
        var at = missed[i].at;
        while (i < missed.length && missed[i].sender === "agent") {
          items.push({ text: missed[i].text, buttons: missed[i].buttons || [], image: missed[i].image });
          at = missed[i].at;
          i += 1;
        }
        append(renderAnswer("agent", items, { at: parseTime(at) }));
      }
    });
  }

  // ---------- composer ----------

  function syncComposer() {
    els.send.disabled = els.input.value.trim() === "";
    els.input.style.height = "auto";
    els.input.style.height = Math.min(els.input.scrollHeight + 2, 120) + "px";
  }

  els.input.addEventListener("input", syncComposer);

  els.input.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME candidate does nothing.
    if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    submit();
  });

  els.form.addEventListener("submit", function (event) {
    event.preventDefault();
    submit();
  });

  function submit() {
    var text = els.input.value;
    if (!text.trim()) return;
    els.input.value = "";
    syncComposer();
    sendMessage(text.trim(), null);
    els.input.focus();
  }

  // Phones: keep the composer above the on-screen keyboard (iOS does not resize 100dvh).
  if (window.visualViewport) {
    var fitViewport = function () {
      var stick = isNearBottom();
      document.documentElement.style.setProperty("--app-height", window.visualViewport.height + "px");
      if (stick) scrollToBottom(true);
    };
    window.visualViewport.addEventListener("resize", fitViewport);
    fitViewport();
  }

  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") reconnectNow();
  });

  // ---------- start ----------

  function start() {
    syncComposer();
    setStatus("connecting");
    fetchHistory().then(function (turns) {
      if (turns.length) {
        renderHistory(turns);
        append(el("div", "divider", "以上为历史消息"), true);
      }
      renderWelcome();
    }, function () {
      renderWelcome();
      append(notice(HISTORY_FAILED), true);
    }).then(function () {
      scrollToBottom(true);
      connect();
    });
  }

  // A small handle for tests and for debugging from the console.
  window.zhidian = {
    senderId: senderId,
    pendingCount: function () { return pending.size; },
    isConnected: function () { return !!socket && socket.readyState === WebSocket.OPEN; }
  };

  start();
})();
