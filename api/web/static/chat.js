/* 智电客服 — customer chat page. Plain JS, no build step, no external assets.
 *
 * Talks to WS /ws/chat/{sender_id} (protocol documented in api/channels/web.py) and reads
 * GET /api/chat/{sender_id}/history on load and after a reconnect. The conversation is issued by
 * the API (POST /api/chat/conversations: id and secret, kept in localStorage); the secret goes
 * with every request (X-Chat-Secret) and opens the socket (the "hello" frame). A conversation the
 * API no longer knows (or an old id without a secret) simply starts a new one.
 */
(function () {
  "use strict";

  var STORAGE_KEY = "zhidian.chat"; // {"id", "secret"}; the old "zhidian.sender_id" had no secret
  var OLD_STORAGE_KEY = "zhidian.sender_id";
  var SENDER_RE = /^[A-Za-z0-9_.:-]*[A-Za-z0-9][A-Za-z0-9_.:-]*$/;
  var LEAVE_MESSAGE = "/leave_message";
  var PING_MS = 25000;
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var NEAR_BOTTOM_PX = 160;
  var REPLY_TIMEOUT_MS = parseInt(document.body.getAttribute("data-reply-timeout-ms"), 10) || 8000;

  var WELCOME_TEXT = "您好！我是智电客服，很高兴为您服务。\n您可以直接输入问题，也可以点击下方常用服务：";
  var QUICK_REPLIES = ["查电费", "报停电", "停电通知", "工单进度", "转人工"];
  var SLOW_NOTICE = "回复稍有延迟，您的消息已保留，请稍候…";
  var HISTORY_FAILED = "历史记录暂时无法加载，不影响继续咨询。";
  var START_FAILED = "暂时无法连接客服，正在重试…如有紧急情况请拨打 95598。";

  var els = {
    messages: document.getElementById("messages"),
    form: document.getElementById("composer"),
    input: document.getElementById("input"),
    send: document.getElementById("send"),
    banner: document.getElementById("banner"),
    status: document.getElementById("status"),
    statusText: document.getElementById("status-text")
  };

  var chat = loadChat(); // {id, secret} once the API has issued it
  var socket = null;
  var everConnected = false;
  var attempts = 0;
  var reconnectTimer = null;
  var pingTimer = null;
  var lastFrameAt = 0;
  var lastServerAt = 0; // ms of the newest server time seen (frames and history)
  var pending = new Map(); // client_msg_id -> {id, text, row, state, timer, slow, sent}
  var answered = new Set(); // client_msg_ids already answered (a late push may repeat a reply)
  var ready = false; // the socket said hello and the server answered "ready"
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

  function loadChat() {
    var saved = null;
    try {
      window.localStorage.removeItem(OLD_STORAGE_KEY);
      saved = JSON.parse(window.localStorage.getItem(STORAGE_KEY) || "null");
    } catch (e) { saved = null; /* storage disabled or garbled: a new conversation */ }
    if (saved && typeof saved.id === "string" && SENDER_RE.test(saved.id) && saved.id.length <= 64 &&
        typeof saved.secret === "string" && saved.secret) {
      return { id: saved.id, secret: saved.secret };
    }
    return null;
  }

  /* Ask the API for a new conversation (id and secret) and keep both. */
  function newChat() {
    return window.fetch("/api/chat/conversations", {
      method: "POST", headers: { Accept: "application/json" }, cache: "no-store"
    }).then(function (res) {
      if (!res.ok) throw new Error("new conversation " + res.status);
      return res.json();
    }).then(function (body) {
      chat = { id: body.conversation_id, secret: body.secret };
      try { window.localStorage.setItem(STORAGE_KEY, JSON.stringify(chat)); } catch (e) { /* session only */ }
      return chat;
    });
  }

  function forgetChat() {
    chat = null;
    try { window.localStorage.removeItem(STORAGE_KEY); } catch (e) { /* storage disabled */ }
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
    if (text === LEAVE_MESSAGE) { openLeaveMessage(); return; }
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
    if (socket && socket.readyState === WebSocket.OPEN && ready) {
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
    return proto + "//" + window.location.host + "/ws/chat/" + encodeURIComponent(chat.id);
  }

  function setStatus(state) {
    els.status.setAttribute("data-state", state);
    els.statusText.textContent = state === "online" ? "在线 · 智能客服为您服务" :
      state === "offline" ? "连接中断" : "连接中…";
  }

  function connect() {
    if (reconnectTimer) { window.clearTimeout(reconnectTimer); reconnectTimer = null; }
    if (socket && (socket.readyState === WebSocket.OPEN || socket.readyState === WebSocket.CONNECTING)) return;
    if (!chat) { begin(); return; }
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
      ready = false;
      ws.send(JSON.stringify({ type: "hello", secret: chat.secret }));
    };
    ws.onmessage = function (event) {
      if (socket !== ws) return;
      lastFrameAt = Date.now();
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (!frame || typeof frame !== "object") return;
      if (frame.type === "ready") { opened(ws); return; }
      if (frame.type === "error" && frame.code === "conversation_not_found" && !frame.client_msg_id) {
        // the API does not know this conversation (any more): start a new one
        socket = null;
        forgetChat();
        try { ws.close(); } catch (e) { /* closing */ }
        begin();
        return;
      }
      onFrame(frame);
    };
    ws.onclose = function () { lost(ws); };
  }

  /* The server accepted the hello: the socket is ready for messages. */
  function opened(ws) {
    ready = true;
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
  }

  function lost(ws) {
    if (socket !== ws) return;
    socket = null;
    ready = false;
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
    } else if (frame.type === "holding") {
      // the reply is late: say so under the customer's words; the reply follows on this socket
      var hp = frame.client_msg_id ? pending.get(frame.client_msg_id) : null;
      var words = (frame.messages || []).map(function (m) { return m.text; }).filter(Boolean).join(" ");
      if (hp && words) {
        if (hp.timer) { window.clearTimeout(hp.timer); hp.timer = null; }
        if (hp.slow && hp.slow.parentNode) hp.slow.parentNode.removeChild(hp.slow);
        hp.slow = notice(words, "slow");
        if (hp.row && hp.row.nextSibling) els.messages.insertBefore(hp.slow, hp.row.nextSibling);
        else append(hp.slow);
        scrollToBottom(false);
      }
    } else if (frame.type === "reply") {
      if (frame.client_msg_id && answered.has(frame.client_msg_id)) return; // shown already
      if (frame.client_msg_id) answered.add(frame.client_msg_id);
      var p = settle(frame.client_msg_id);
      // An agent owns the conversation: the gateway answers nothing now, the agent will.
      if (p) setRowState(p.row, frame.handled_by === "agent" && !(frame.messages || []).length ? "已送达" : "");
      var messages = Array.isArray(frame.messages) ? frame.messages : [];
      if (frame.handled_by === "system") {
        // A ticket progress notice (抢修人员已接单 …): shown as the history shows it after a reload.
        messages.forEach(function (m) { if (m.text) append(notice(m.text, "system"), false); });
      } else if (messages.length) {
        // The gateway's own lines ("system": the fallback for a bot that is down) are notices,
        // as the history shows them after a reload; the rest are answers of the bot or an agent.
        var sender = frame.handled_by === "agent" ? "agent" : "bot";
        var run = [];
        var flushRun = function () {
          if (run.length) append(renderAnswer(sender, run, { at: parseTime(frame.at) }), !!p);
          run = [];
        };
        messages.forEach(function (m) {
          if (m.sender === "system") {
            flushRun();
            if (m.text) append(notice(m.text, "system"), !!p);
          } else {
            run.push(m);
          }
        });
        flushRun();
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
    var url = "/api/chat/" + encodeURIComponent(chat.id) + "/history";
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, 6000) : null;
    return window.fetch(url, {
      headers: { Accept: "application/json", "X-Chat-Secret": chat.secret },
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    }).then(function (res) {
      if (timer) window.clearTimeout(timer);
      if (res.status === 404) { forgetChat(); return { gone: true, turns: [] }; }
      if (!res.ok) throw new Error("history " + res.status);
      return res.json();
    }, function (err) {
      if (timer) window.clearTimeout(timer);
      throw err;
    }).then(function (data) {
      if (data && data.gone) throw new Error("gone");
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
    (chat ? fetchHistory() : Promise.reject(new Error("new"))).then(function (turns) {
      if (turns.length) {
        renderHistory(turns);
        append(el("div", "divider", "以上为历史消息"), true);
      }
      renderWelcome();
    }, function (err) {
      renderWelcome();
      if (chat) append(notice(HISTORY_FAILED), true); // the conversation is there; its history is not
    }).then(function () {
      scrollToBottom(true);
      begin();
    });
  }

  /* Opened from an outage notice's link (?n=…): the known outage is the chat's first words. */
  var NOTICE_TOKEN = (function () {
    var m = /[?&]n=(\d+\.\d+\.[0-9a-f]{16})(?:&|$)/.exec(window.location.search);
    return m ? m[1] : null;
  })();

  function openNotice() {
    if (!NOTICE_TOKEN || !chat) return;
    var token = NOTICE_TOKEN;
    NOTICE_TOKEN = null;
    try { window.history.replaceState(null, "", window.location.pathname); } catch (e) { /* keep the URL */ }
    window.fetch("/api/chat/notice", {
      method: "POST", cache: "no-store",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-Chat-Secret": chat.secret },
      body: JSON.stringify({ conversation_id: chat.id, token: token })
    }).then(function (res) { return res.ok ? res.json() : null; }).then(function (body) {
      if (body && body.text) append(renderAnswer("bot", [{ text: body.text }], { at: Date.now() }), true);
    }, function () { /* the notice stays in the SMS; the chat works as usual */ });
  }

  /* Connect, first asking the API for a conversation when there is none yet. */
  function begin() {
    if (chat) { connect(); openNotice(); return; }
    newChat().then(function () { connect(); openNotice(); }, function () {
      setStatus("offline");
      if (!els.messages.querySelector(".notice--start")) append(notice(START_FAILED, "start"), true);
      scheduleReconnect();
    });
  }

  // ---------- leaving a message for a call-back ----------

  function openLeaveMessage() {
    var open = els.messages.querySelector(".leave-message");
    if (open) { open.querySelector("input").focus(); return; }
    var form = el("form", "leave-message");
    form.setAttribute("aria-label", "留言");
    form.appendChild(el("p", "leave-title", "留下联系电话和想咨询的问题，我们尽快给您回电"));
    var phone = document.createElement("input");
    phone.type = "tel"; phone.name = "phone"; phone.placeholder = "手机号"; phone.autocomplete = "tel";
    phone.maxLength = 20; phone.required = true;
    var words = document.createElement("textarea");
    words.name = "text"; words.rows = 2; words.maxLength = 500; words.placeholder = "想咨询的问题（选填）";
    var actions = el("div", "leave-actions");
    var submit = el("button", "primary", "提交留言"); submit.type = "submit";
    var cancel = el("button", "ghost", "取消"); cancel.type = "button";
    actions.appendChild(cancel); actions.appendChild(submit);
    var error = el("p", "leave-error"); error.hidden = true; error.setAttribute("role", "alert");
    form.appendChild(phone); form.appendChild(words); form.appendChild(error); form.appendChild(actions);
    cancel.addEventListener("click", function () { form.parentNode.removeChild(form); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var digits = phone.value.replace(/[\s\-()]/g, "").replace(/^(\+86|0086)/, "");
      if (!/^1[3-9]\d{9}$/.test(digits)) {
        error.textContent = "请填写11位手机号，方便我们回电。";
        error.hidden = false;
        phone.focus();
        return;
      }
      submit.disabled = true;
      error.hidden = true;
      window.fetch("/api/chat/conversations/" + encodeURIComponent(chat.id) + "/callback", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-Chat-Secret": chat.secret },
        body: JSON.stringify({ phone: digits, text: words.value.trim() })
      }).then(function (res) {
        return res.json().then(function (body) { return { ok: res.ok, body: body }; });
      }).then(function (result) {
        if (!result.ok) throw new Error((result.body.detail && result.body.detail.message) || "");
        form.parentNode.removeChild(form);
        append(notice(result.body.message.text, "system"), true);
      }).catch(function (err) {
        submit.disabled = false;
        error.textContent = (err && err.message) || "留言暂时没有提交成功，请稍后再试，或拨打 95598。";
        error.hidden = false;
      });
    });
    closeReplyButtons();
    append(form, true);
    phone.focus();
  }

  // A small handle for tests and for debugging from the console.
  window.zhidian = {
    get senderId() { return chat ? chat.id : null; },
    pendingCount: function () { return pending.size; },
    isConnected: function () { return !!socket && socket.readyState === WebSocket.OPEN && ready; }
  };

  start();
})();
