/* 智电 · 坐席工作台 — the 95598 agents' console. Plain JS, no build step, no external assets.
 *
 * Sign-in, HTTP and error text come from staff.js (window.ZhidianStaff). Data:
 *   GET  /api/agent/me, PUT /api/agent/me/status           the agent, status 在线/小休/离线, load
 *   GET  /api/agent/queue, /api/agent/conversations?scope=  waiting, mine, live with the bot
 *   GET  /api/agent/conversations/{id} (+ /join /release /messages /ticket-draft)
 *   GET  /api/agent/suggestions?text=&intent=               KB answers and the intent's reply template
 *   GET  /api/agent/teams, PUT /api/agent/teams/{team}      auto-assignment switches (supervisors)
 *   GET  /api/customers/search?q=, /api/customers/{no}/overview   客户360
 *   POST /api/tickets/faults, /api/tickets                   tickets from the console
 *   GET  /api/tickets/{number}                               an area ticket's progress (客户360, 关联)
 *   WS   /api/agent/live   console events in; {"type":"ping"} every 20 s keeps the agent present.
 */
(function () {
  "use strict";

  var PING_MS = 20000;
  var RETRY_MAX_MS = 15000;
  var WAIT_WARN_S = 60;
  var WAIT_LATE_S = 180;
  var MAX_REPLY = 1000;
  var MSG_EXPIRED = "登录已过期，请重新登录";
  var MSG_FAILED = "操作失败，请稍后重试";
  var BLANK = /【[^】]*】/;

  var CHANNELS = { web: "网页", wechat: "微信", hotline: "热线", sms: "短信" };
  var INTENTS = {
    greet: "问候", goodbye: "告别", thank: "致谢", request_human: "转人工", affirm: "肯定", deny: "否定",
    query_bill: "查询电费", query_balance: "查询余额", pay_bill: "缴费方式", query_usage: "查询用电量",
    forecast_bill: "电费预估", energy_advice: "节能建议", query_outage_notice: "停电通知",
    report_outage: "停电报修", report_hazard: "安全隐患", query_ticket_status: "工单进度",
    complaint: "投诉", apply_service: "业务咨询", start_application: "业务申请",
    charging_find_station: "查找充电站", charging_status: "充电状态", charging_book: "排队充电",
    charging_cancel: "取消排队", report_charger_fault: "充电桩报修",
    faq: "常见问题", nlu_fallback: "未能理解", out_of_scope: "非供电业务", bot_challenge: "询问人工"
  };
  var TICKET_BY_INTENT = {
    report_outage: "故障报修", report_hazard: "故障报修", complaint: "投诉", apply_service: "业务办理",
    start_application: "业务办理", report_charger_fault: "充电设施故障"
  };
  var FIELD_NAMES = {
    type: "工单类型", kind: "故障类别", account_no: "户号", phone: "联系电话", address_text: "地址",
    description: "问题描述", service_type: "业务类型", subject: "投诉事项"
  };
  var STATUS_LABELS = { online: "在线", away: "小休", offline: "离线" };
  var TARIFFS = { // the demo region's tariff codes
    "NX-RES-TIER": "居民生活阶梯电价", "NX-RES-TOU": "居民峰谷分时电价", "NX-GC": "一般工商业电价",
    "NX-LI": "大工业两部制电价"
  };

  var api = ZhidianStaff.api;
  var message = ZhidianStaff.message;
  var show = ZhidianStaff.show;

  function $(id) { return document.getElementById(id); }

  var els = {
    who: $("who"), logout: $("logout"), controls: $("desk-controls"), statusSwitch: $("status-switch"),
    loadCount: $("load-count"), live: $("live"), liveText: $("live-text"),
    loginView: $("login-view"), loginForm: $("login-form"), username: $("username"), password: $("password"),
    loginError: $("login-error"), loginSubmit: $("login-submit"),
    deniedView: $("denied-view"), deniedError: $("denied-error"),
    console: $("console"), consoleError: $("console-error"), tabChat: $("tab-chat"), tabHotline: $("tab-hotline"),
    teams: $("teams"), teamSwitches: $("team-switches"),
    agentsBlock: $("agents-block"), agentsList: $("agents-list"), agentsCount: $("agents-count"),
    transfer: $("transfer"), transferTo: $("transfer-to"), transferGo: $("transfer-go"),
    queueList: $("queue-list"), queueCount: $("queue-count"), mineList: $("mine-list"), mineCount: $("mine-count"),
    botList: $("bot-list"), botCount: $("bot-count"),
    chatPane: $("chat-pane"), chatEmpty: $("chat-empty"), chat: $("chat"), chatTitle: $("chat-title"),
    chatSub: $("chat-sub"), join: $("join"), ticket: $("ticket"), release: $("release"),
    transcript: $("transcript"), newBelow: $("new-below"), composer: $("composer"), source: $("source"),
    sourceText: $("source-text"),
    sourceClear: $("source-clear"), reply: $("reply"), composerHint: $("composer-hint"), counter: $("counter"),
    send: $("send"), sendError: $("send-error"),
    hotlinePane: $("hotline-pane"), lookupForm: $("lookup-form"), lookup: $("lookup"), lookupError: $("lookup-error"),
    matches: $("matches"), askForm: $("ask-form"), question: $("question"), askError: $("ask-error"),
    hotlineTicket: $("hotline-ticket"), hotlineSuggestions: $("hotline-suggestions"), hotlineDraft: $("hotline-draft"),
    script: $("script"),
    c360: $("c360"), c360Change: $("c360-change"), c360Lookup: $("c360-lookup"), c360Hint: $("c360-hint"),
    c360Detected: $("c360-detected"), c360Q: $("c360-q"), c360Error: $("c360-error"), c360Matches: $("c360-matches"),
    c360Body: $("c360-body"),
    dialog: $("ticket-dialog"), ticketForm: $("ticket-form"), ticketFrom: $("ticket-from"), ticketClose: $("ticket-close"),
    tType: $("t-type"), tKind: $("t-kind"), tService: $("t-service"), tSubject: $("t-subject"),
    tAccount: $("t-account"), tPhone: $("t-phone"), tAddress: $("t-address"), tDescription: $("t-description"),
    ticketError: $("ticket-error"), ticketDone: $("ticket-done"), ticketNumber: $("ticket-number"),
    ticketStatus: $("ticket-status"), ticketCancel: $("ticket-cancel"), ticketSubmit: $("ticket-submit"),
    toasts: $("toasts")
  };

  var timeFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
  });
  var shortFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false
  });
  var dayFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false
  });

  var state = freshState();

  function freshState() {
    return {
      running: false, user: null, me: null,
      queue: [], mine: [], bot: [], fetchedAt: Date.now(),
      current: null,          // the open conversation (AgentConversationRead)
      selected: null,         // the customer turn whose suggestions are shown
      autoSelect: true,       // follow the newest customer turn
      suggestions: {},        // turn id → {data | error | loading}
      source: null,           // the suggestion the reply box started from
      pending: null,          // {conversation, text, id}: a send to retry with the same client_msg_id
      drafts: {},             // conversation id → {text, source}
      unread: {},             // conversation id → customer lines not read (mine and waiting, not open)
      newBelow: 0, atBottom: true, // lines arrived below the open transcript's view
      joining: {},            // conversations this console is taking over right now
      mode: "chat",
      chatAccounts: {},       // conversation id → account_no looked up by the agent
      hotlineAccount: null, hotlineCustomer: null, hotlinePhone: null, hotlineIntent: null,
      shown360: null, seq360: 0, chart: null, customer360: null,
      socket: null, retry: 0, retryTimer: null, pingTimer: null,
      refreshTimer: null, refreshing: false, refreshAgain: false,
      ticketContext: null
    };
  }

  // ---------- small helpers ----------

  function node(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  }

  function button(className, text, onClick) {
    var b = node("button", className, text);
    b.type = "button";
    if (onClick) b.addEventListener("click", onClick);
    return b;
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function mmss(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  function fmt(formatter, iso) {
    var t = Date.parse(iso);
    return isNaN(t) ? "—" : formatter.format(new Date(t));
  }

  function digits(value) { // full-width digits, spaces and dashes as a caller's number is typed
    return (value || "").replace(/[０-９]/g, function (c) { return String.fromCharCode(c.charCodeAt(0) - 0xfee0); })
      .replace(/[\s\-－—]/g, "");
  }

  function myOwner() { return state.me ? "agent:" + state.me.username : null; }

  function isSupervisor() { return !!state.user && (state.user.role === "supervisor" || state.user.role === "admin"); }

  function shortId(id) {
    var tail = String(id).replace(/^[a-z]+[-:]/i, "").replace(/-/g, "");
    return tail.slice(0, 6).toUpperCase();
  }

  function convName(c) {
    if (c.account_no) return "户号 " + c.account_no;
    return (CHANNELS[c.channel] || "") + "访客 " + shortId(c.conversation_id);
  }

  function toast(text, kind) {
    var t = node("div", "toast" + (kind ? " toast--" + kind : ""), text);
    t.setAttribute("role", kind === "error" ? "alert" : "status");
    els.toasts.appendChild(t);
    window.setTimeout(function () { t.classList.add("toast--out"); }, 4200);
    window.setTimeout(function () { t.remove(); }, 4700);
  }

  /* Common handling of a failed call: 401 signs out; returns true when the caller should stop. */
  function expired(result) {
    if (result.status === 401) {
      session.signOut(MSG_EXPIRED);
      return true;
    }
    return false;
  }

  // ---------- sign-in and the views ----------

  var session = ZhidianStaff.signIn({
    form: els.loginForm, username: els.username, password: els.password, error: els.loginError,
    submit: els.loginSubmit, logout: els.logout, who: els.who,
    onSignedIn: signedIn, onSignedOut: signedOut
  });

  var signIns = 0; // a late answer for an earlier sign-in is ignored

  function signedIn(user) {
    stopDesk();
    state = freshState();
    state.user = user || null;
    els.loginView.hidden = true;
    var mine = ++signIns;
    api("GET", "/api/agent/me").then(function (result) {
      if (mine !== signIns) return;
      if (expired(result)) return;
      if (!result.ok) {
        if (result.status === 403) {
          show(els.deniedError, message(result, "您的账号没有权限使用坐席工作台"));
          els.deniedView.hidden = false;
        } else {
          show(els.deniedError, message(result, "工作台加载失败，请刷新页面重试"));
          els.deniedView.hidden = false;
        }
        return;
      }
      startDesk(result.data);
    });
  }

  function signedOut() {
    signIns += 1;
    stopDesk();
    state = freshState();
    document.body.classList.remove("desk-mode");
    els.console.hidden = true;
    els.controls.hidden = true;
    els.deniedView.hidden = true;
    els.loginView.hidden = false;
  }

  function startDesk(me) {
    state.running = true;
    document.body.classList.add("desk-mode");
    els.deniedView.hidden = true;
    els.console.hidden = false;
    els.controls.hidden = false;
    renderMe(me);
    setMode("chat");
    renderChat();
    render360();
    els.teams.hidden = !isSupervisor();
    els.agentsBlock.hidden = !isSupervisor();
    refreshLists();
    if (isSupervisor()) { loadTeams(); loadAgents(); }
    connect();
  }

  function stopDesk() {
    state.running = false;
    var ws = state.socket;
    state.socket = null;
    if (ws) { try { ws.close(1000); } catch (e) { /* closed */ } }
    window.clearTimeout(state.retryTimer);
    window.clearInterval(state.pingTimer);
    window.clearTimeout(state.refreshTimer);
    if (state.chart) { state.chart.dispose(); state.chart = null; }
    if (els.dialog.open) els.dialog.close();
    els.transcript.textContent = "";
    els.c360Body.textContent = "";
    hotlineHint();
    [els.queueList, els.mineList, els.botList, els.teamSwitches].forEach(function (l) { l.textContent = ""; });
    els.reply.value = "";
    els.lookup.value = "";
    els.question.value = "";
    els.script.value = "";
    els.hotlineDraft.hidden = true;
    show(els.consoleError, "");
  }

  // ---------- the agent: status and load ----------

  function renderMe(me) {
    state.me = me;
    var buttons = els.statusSwitch.querySelectorAll("[data-status]");
    Array.prototype.forEach.call(buttons, function (b) {
      b.setAttribute("aria-checked", b.getAttribute("data-status") === me.status ? "true" : "false");
    });
    els.statusSwitch.setAttribute("data-status", me.status);
    els.loadCount.textContent = me.open_chats + "/" + me.max_chats;
    els.loadCount.parentNode.classList.toggle("load--full", me.open_chats >= me.max_chats);
    var role = (state.user && state.user.role_name) || "";
    els.who.textContent = [me.display_name, role, me.team].filter(Boolean).join(" · ");
  }

  function refreshMe() {
    api("GET", "/api/agent/me").then(function (result) {
      if (expired(result) || !result.ok || !state.running) return;
      renderMe(result.data);
    });
  }

  els.statusSwitch.addEventListener("click", function (event) {
    var b = event.target.closest("[data-status]");
    if (!b || !state.me) return;
    var status = b.getAttribute("data-status");
    if (status === state.me.status) return;
    var all = els.statusSwitch.querySelectorAll("button");
    Array.prototype.forEach.call(all, function (x) { x.disabled = true; });
    api("PUT", "/api/agent/me/status", { status: status }).then(function (result) {
      Array.prototype.forEach.call(all, function (x) { x.disabled = false; });
      if (expired(result)) return;
      if (!result.ok) { toast(message(result, "状态切换失败，请稍后重试"), "error"); return; }
      renderMe(result.data);
      toast("已切换为“" + (STATUS_LABELS[status] || status) + "”" +
            (status === "online" ? "，将自动为您分配排队客户" : ""));
      scheduleRefresh();
    });
  });

  // ---------- teams (supervisors) ----------

  function loadTeams() {
    api("GET", "/api/agent/teams").then(function (result) {
      if (expired(result) || !result.ok || !state.running) return;
      renderTeams(result.data || []);
    });
  }

  function renderTeams(teams) {
    els.teamSwitches.textContent = "";
    teams.forEach(function (t) {
      var label = node("label", "switch");
      var input = node("input");
      input.type = "checkbox";
      input.setAttribute("role", "switch");
      input.checked = !!t.auto_assign;
      input.setAttribute("data-team", t.team);
      input.setAttribute("aria-label", t.team + " 自动分配");
      input.addEventListener("change", function () { setTeam(t.team, input); });
      label.appendChild(input);
      label.appendChild(node("span", "track"));
      label.appendChild(node("span", "switch-text", t.team));
      els.teamSwitches.appendChild(label);
    });
  }

  function setTeam(team, input) {
    var wanted = input.checked;
    input.disabled = true;
    api("PUT", "/api/agent/teams/" + encodeURIComponent(team), { auto_assign: wanted }).then(function (result) {
      input.disabled = false;
      if (expired(result)) return;
      if (!result.ok) {
        input.checked = !wanted;
        toast(message(result, MSG_FAILED), "error");
        return;
      }
      input.checked = !!result.data.auto_assign;
      toast(team + (result.data.auto_assign ? " 已开启自动分配" : " 已关闭自动分配，排队客户需坐席手动接入"));
    });
  }

  // ---------- the lists ----------

  function scheduleRefresh() {
    window.clearTimeout(state.refreshTimer);
    state.refreshTimer = window.setTimeout(refreshLists, 120);
  }

  function refreshLists() {
    if (!state.running) return;
    if (state.refreshing) { state.refreshAgain = true; return; }
    state.refreshing = true;
    Promise.all([
      api("GET", "/api/agent/queue"),
      api("GET", "/api/agent/conversations?scope=mine"),
      api("GET", "/api/agent/conversations?scope=bot")
    ]).then(function (results) {
      state.refreshing = false;
      if (!state.running) return;
      for (var i = 0; i < results.length; i++) {
        if (expired(results[i])) return;
        if (!results[i].ok) {
          show(els.consoleError, message(results[i], "会话列表加载失败，正在重试…"));
          if (results[i].status === 403) return;
          window.setTimeout(scheduleRefresh, 3000);
          return;
        }
      }
      show(els.consoleError, "");
      state.queue = results[0].data || [];
      state.mine = results[1].data || [];
      state.bot = results[2].data || [];
      state.fetchedAt = Date.now();
      Object.keys(state.unread).forEach(function (id) { // taken by someone else or closed: nothing to read here
        if (!inQueue(id) && !state.mine.some(function (c) { return c.conversation_id === id; })) delete state.unread[id];
      });
      renderLists();
      if (state.current) renderChatHead();
      if (state.refreshAgain) { state.refreshAgain = false; refreshLists(); }
    });
  }

  function renderLists() {
    renderList(els.queueList, els.queueCount, state.queue, "queue", "暂无排队客户");
    renderList(els.mineList, els.mineCount, state.mine, "mine", "暂无接待中的会话");
    renderList(els.botList, els.botCount, state.bot, "bot", "智能客服暂无进行中的会话");
    tick();
  }

  function renderList(list, count, items, kind, emptyText) {
    count.textContent = items.length;
    count.classList.toggle("count--hot", kind === "queue" && items.length > 0);
    list.textContent = "";
    if (!items.length) {
      list.appendChild(node("li", "conv-empty", emptyText));
      return;
    }
    items.forEach(function (c) { list.appendChild(listItem(c, kind)); });
  }

  function listItem(c, kind) {
    var id = c.conversation_id;
    var li = node("li", "conv conv--" + kind);
    li.setAttribute("data-id", id);
    if (state.current && state.current.conversation_id === id) li.classList.add("conv--active");

    var open = button("conv-open", null, function () { openConversation(id); });
    open.setAttribute("aria-label", "查看会话 " + convName(c));
    var top = node("span", "conv-top");
    top.appendChild(node("span", "chan chan--" + c.channel, CHANNELS[c.channel] || c.channel));
    top.appendChild(node("span", "conv-name", convName(c)));
    if (kind === "queue" && c.waited_seconds !== null && c.waited_seconds !== undefined) {
      var wait = node("span", "wait", mmss(c.waited_seconds));
      wait.setAttribute("data-waited", c.waited_seconds);
      wait.title = "已等待";
      top.appendChild(wait);
    } else {
      top.appendChild(node("span", "conv-time", fmt(shortFmt, c.last_active_at)));
    }
    open.appendChild(top);
    open.appendChild(node("span", "conv-text", c.last_text || "（客户尚未发言）"));
    if (c.reason_label && kind !== "bot") {
      var tags = node("span", "conv-tags");
      tags.appendChild(node("span", "reason reason--" + (c.reason || "other"), c.reason_label));
      open.appendChild(tags);
    }
    li.appendChild(open);

    if ((kind === "mine" || kind === "queue") && state.unread[id]) {
      var badge = node("span", "unread", String(state.unread[id]));
      badge.title = state.unread[id] + "条未读消息";
      badge.setAttribute("aria-label", badge.title);
      li.appendChild(badge);
    }
    if (kind === "queue" || kind === "bot") {
      var join = button("join-btn", "接入", function () { joinConversation(id); });
      join.setAttribute("aria-label", "接入 " + convName(c));
      li.appendChild(join);
    }
    return li;
  }

  /* Once a second: the waiting times count up without a refetch. */
  function tick() {
    var gone = (Date.now() - state.fetchedAt) / 1000;
    var waits = els.queueList.querySelectorAll("[data-waited]");
    Array.prototype.forEach.call(waits, function (w) {
      var s = Number(w.getAttribute("data-waited")) + gone;
      w.textContent = mmss(s);
      w.classList.toggle("wait--warn", s >= WAIT_WARN_S && s < WAIT_LATE_S);
      w.classList.toggle("wait--late", s >= WAIT_LATE_S);
    });
  }
  window.setInterval(function () { if (state.running) tick(); }, 1000);

  // ---------- one conversation ----------

  function openConversation(id) {
    setMode("chat");
    saveDraft();
    api("GET", "/api/agent/conversations/" + encodeURIComponent(id)).then(function (result) {
      if (expired(result) || !state.running) return;
      if (!result.ok) { toast(message(result, "会话加载失败，请稍后重试"), "error"); return; }
      showConversation(result.data);
    });
  }

  function showConversation(data) {
    var switching = !state.current || state.current.conversation_id !== data.conversation_id;
    state.current = data;
    delete state.unread[data.conversation_id];
    if (switching) {
      state.selected = lastCustomerTurn();
      state.autoSelect = true;
      var draft = state.drafts[data.conversation_id];
      els.reply.value = draft ? draft.text : "";
      state.source = draft ? draft.source : null;
      show(els.sendError, "");
    }
    renderChat();
    renderLists();
    render360();
  }

  function reloadCurrent() {
    if (!state.current) return;
    var id = state.current.conversation_id;
    api("GET", "/api/agent/conversations/" + encodeURIComponent(id)).then(function (result) {
      if (expired(result) || !result.ok || !state.current || state.current.conversation_id !== id) return;
      showConversation(result.data);
    });
  }

  function saveDraft() {
    if (!state.current) return;
    var text = els.reply.value;
    if (text) state.drafts[state.current.conversation_id] = { text: text, source: state.source };
    else delete state.drafts[state.current.conversation_id];
  }

  function lastCustomerTurn() {
    var turns = (state.current && state.current.turns) || [];
    for (var i = turns.length - 1; i >= 0; i--) if (turns[i].sender === "customer" && turns[i].text) return turns[i].id;
    return null;
  }

  function isMine() { return !!state.current && state.current.owner === myOwner(); }

  function inQueue(id) {
    return state.queue.some(function (c) { return c.conversation_id === id; });
  }

  function renderChat() {
    var c = state.current;
    els.chatEmpty.hidden = !!c;
    els.chat.hidden = !c;
    if (!c) return;
    renderChatHead();
    renderTranscript();
    renderComposer();
  }

  function renderChatHead() {
    var c = state.current;
    if (!c) return;
    els.chatTitle.textContent = convName(c);
    var parts = [(CHANNELS[c.channel] || c.channel) + "渠道"];
    var owner;
    if (c.owner === myOwner()) owner = "由我接待";
    else if (c.owner.indexOf("agent:") === 0) owner = "坐席 " + agentName(c.owner.slice(6)) + " 接待中";
    else if (inQueue(c.conversation_id)) owner = "排队等待人工";
    else owner = "智能客服接待中";
    parts.push(owner);
    if (c.reason_label && (c.owner !== "bot" || inQueue(c.conversation_id))) parts.push("转人工原因：" + c.reason_label);
    els.chatSub.textContent = parts.join(" · ");
    els.chat.setAttribute("data-owner", c.owner === myOwner() ? "me" : (c.owner === "bot" ? "bot" : "other"));
    els.join.hidden = c.owner !== "bot";
    els.release.hidden = !(isMine() || (isSupervisor() && c.owner.indexOf("agent:") === 0));
    renderTransfer(c);
    renderComposer();
  }

  // ---------- every agent, and moving a chat (supervisors) ----------

  function loadAgents() {
    api("GET", "/api/agent/agents").then(function (result) {
      if (expired(result) || !result.ok || !state.running) return;
      state.agents = result.data || [];
      renderAgents();
      if (state.current) renderTransfer(state.current);
    });
  }

  function renderAgents() {
    var list = state.agents || [];
    els.agentsList.textContent = "";
    els.agentsCount.textContent = String(list.filter(function (a) { return a.status === "online"; }).length);
    list.forEach(function (a) {
      var absent = !a.present && a.status !== "offline";  // marked 在线/小休 but the console is gone
      var li = node("li", "agent agent--" + a.status + (absent ? " agent--absent" : ""));
      li.setAttribute("data-username", a.username);
      li.appendChild(node("span", "agent-name", a.display_name));
      li.appendChild(node("span", "agent-status", absent ? a.status_label + "（未在线）" : a.status_label));
      li.appendChild(node("span", "agent-load", a.open_chats + "/" + a.max_chats));
      if (a.longest_wait_seconds !== null && a.longest_wait_seconds !== undefined) {
        var wait = node("span", "agent-wait" + (a.longest_wait_seconds >= 180 ? " agent-wait--late" : ""),
                        "客户已等 " + clock(a.longest_wait_seconds));
        li.appendChild(wait);
      }
      els.agentsList.appendChild(li);
    });
  }

  function renderTransfer(c) {
    var movable = isSupervisor() && (c.owner.indexOf("agent:") === 0 || inQueue(c.conversation_id));
    els.transfer.hidden = !movable;
    if (!movable) return;
    var chosen = els.transferTo.value;
    els.transferTo.textContent = "";
    (state.agents || []).forEach(function (a) {
      if (c.owner === "agent:" + a.username) return;
      var option = node("option", null, a.display_name + "（" + a.status_label + " " + a.open_chats + "/" + a.max_chats + "）");
      option.value = a.username;
      els.transferTo.appendChild(option);
    });
    if (chosen) els.transferTo.value = chosen;
    els.transferGo.disabled = !els.transferTo.options.length;
  }

  function clock(seconds) {
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return (m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  function renderComposer() {
    var mine = isMine();
    els.reply.disabled = !mine;
    els.composer.classList.toggle("composer--off", !mine);
    var c = state.current;
    var hint = "Enter 发送，Shift+Enter 换行";
    if (!mine) {
      hint = c && c.owner === "bot" ? "点击“接入”后即可回复客户，机器人将停止应答" : "该会话不由您接待，仅可查看";
    }
    els.composerHint.textContent = hint;
    updateComposer();
    var inserts = els.transcript.querySelectorAll(".insert");
    Array.prototype.forEach.call(inserts, function (b) { b.disabled = !mine; });
  }

  function updateComposer() {
    var text = els.reply.value;
    var length = text.trim().length;
    els.counter.textContent = length + "/" + MAX_REPLY;
    els.counter.classList.toggle("counter--over", length > MAX_REPLY);
    els.send.disabled = !isMine() || !length || length > MAX_REPLY;
    if (state.source && !text.trim()) state.source = null;
    if (state.source) {
      var edited = text !== state.source.text;
      els.sourceText.textContent = "引用：" + state.source.label + (edited ? "（已修改）" : "（未修改）");
      els.source.hidden = false;
    } else {
      els.source.hidden = true;
    }
  }

  // ---------- the transcript ----------

  function renderTranscript() {
    var list = els.transcript;
    list.textContent = "";
    (state.current.turns || []).forEach(function (t) { list.appendChild(turnItem(t)); });
    renderSuggestionSlot();
    list.scrollTop = list.scrollHeight;
    state.atBottom = true;
    clearNewBelow();
  }

  function agentName(username) {
    if (state.me && username === state.me.username) return state.me.display_name;
    var known = (state.agents || []).filter(function (a) { return a.username === username; })[0];  // supervisors
    return known ? known.display_name : (username || "");
  }

  function turnItem(t) {
    var li = node("li", "turn turn--" + t.sender);
    li.setAttribute("data-turn-id", t.id);
    if (t.sender === "system") {
      li.appendChild(node("span", "notice", t.text || ""));
      li.appendChild(node("time", "turn-time", fmt(timeFmt, t.at)));
      return li;
    }
    var meta = node("div", "turn-meta");
    var who = { customer: "客户", bot: "智能客服", agent: "人工客服 " + agentName(t.agent) }[t.sender] || t.sender;
    meta.appendChild(node("span", "turn-who", who));
    meta.appendChild(node("time", "turn-time", fmt(timeFmt, t.at)));
    if (t.sender === "customer" && t.intent) {
      var intent = node("span", "intent", INTENTS[t.intent] || t.intent);
      intent.title = "机器人识别的意图：" + t.intent;
      meta.appendChild(intent);
    }
    li.appendChild(meta);
    var image = turnImage(t.image, t.sender);
    if (t.text || !image) li.appendChild(node("div", "bubble turn-text", t.text || ""));
    if (image) li.appendChild(image);
    if (t.buttons && t.buttons.length) { // what the customer was offered to tap (not buttons for the agent)
      var chips = node("div", "turn-buttons");
      chips.setAttribute("aria-label", "客户看到的选项");
      chips.appendChild(node("span", "turn-buttons-label", "选项："));
      t.buttons.forEach(function (b) { if (b && b.title) chips.appendChild(node("span", "chip", b.title)); });
      li.appendChild(chips);
    }
    if (t.sender === "customer" && t.text) {
      var toggle = button("suggest-toggle", "建议回复", function () { selectTurn(t.id, true); });
      toggle.setAttribute("aria-expanded", "false");
      li.appendChild(toggle);
    }
    return li;
  }

  /* An http(s) URL of an image, relative ones against this page (the bot's charts are signed links here). */
  function imageUrl(src) {
    if (typeof src !== "string" || !src) return null;
    try {
      var url = new URL(src, window.location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
    } catch (e) { return null; }
  }

  /* The image the customer was shown (a chart link expires after a week) or sent (a WeChat picture, kept
     here), as a link to it full size. */
  function turnImage(src, sender) {
    var sent = sender === "customer";
    var url = imageUrl(src);
    if (!url) return null;
    var link = node("a", "turn-image");
    link.href = url;
    link.target = "_blank";
    link.rel = "noopener";
    link.title = "点击查看原图";
    var img = node("img");
    img.alt = sent ? "客户发来的图片" : "客户看到的图片";
    img.decoding = "async";
    img.addEventListener("load", function () {
      if (state.atBottom) els.transcript.scrollTop = els.transcript.scrollHeight; // it grew: stay at the end
    });
    img.addEventListener("error", function () {
      link.classList.add("turn-image--broken");
      link.textContent = sent ? "图片无法显示，点击尝试打开" : "图片无法显示（链接可能已过期），点击尝试打开";
    });
    img.src = url;
    link.appendChild(img);
    return link;
  }

  function nearBottom(list) { return list.scrollHeight - list.scrollTop - list.clientHeight < 80; }

  /* "N条新消息 ↓": lines that arrived below while the agent reads further up; gone at the bottom. */
  function showNewBelow() {
    els.newBelow.hidden = !state.newBelow;
    els.newBelow.textContent = state.newBelow + "条新消息 ↓";
  }

  function clearNewBelow() {
    state.newBelow = 0;
    showNewBelow();
  }

  /* The newest line's own text is in view (its suggestions, loading under it, may reach below). */
  function newestLineSeen() {
    var turns = els.transcript.querySelectorAll(".turn");
    var last = turns[turns.length - 1];
    if (!last) return true;
    var line = last.querySelector(".turn-text, .notice, .turn-image") || last;
    return line.getBoundingClientRect().bottom <= els.transcript.getBoundingClientRect().bottom + 2;
  }

  els.transcript.addEventListener("scroll", function () {
    state.atBottom = nearBottom(els.transcript);
    if (state.newBelow && (state.atBottom || newestLineSeen())) clearNewBelow();
  });

  els.newBelow.addEventListener("click", function () {
    els.transcript.scrollTop = els.transcript.scrollHeight;
    state.atBottom = true;
    clearNewBelow();
  });

  function appendTurn(turn) {
    var c = state.current;
    if (!c || !turn || c.turns.some(function (t) { return t.id === turn.id; })) return;
    // at the end (not scrolled away since, whatever grew meanwhile), or the agent's own line: follow it
    var stick = state.atBottom || nearBottom(els.transcript) || turn.sender === "agent";
    c.turns.push(turn);
    c.turns.sort(function (a, b) { return a.id - b.id; });
    var item = turnItem(turn);
    var after = null;
    var items = els.transcript.querySelectorAll(".turn");
    for (var i = 0; i < items.length; i++) {
      if (Number(items[i].getAttribute("data-turn-id")) > turn.id) { after = items[i]; break; }
    }
    els.transcript.insertBefore(item, after);
    if (turn.sender === "customer" && turn.text && state.autoSelect) {
      state.selected = turn.id;
      renderSuggestionSlot();
    } else if (state.selected && !els.transcript.querySelector(".suggest")) {
      renderSuggestionSlot();
    }
    if (stick) {
      els.transcript.scrollTop = els.transcript.scrollHeight;
      state.atBottom = true;
      clearNewBelow();
    } else {
      state.newBelow += 1;
      showNewBelow();
    }
  }

  // ---------- suggestions ----------

  function selectTurn(id, byHand) {
    if (byHand && state.selected === id && els.transcript.querySelector(".suggest")) {
      state.selected = null; // a second click folds them away
      state.autoSelect = false;
      renderSuggestionSlot();
      return;
    }
    state.selected = id;
    state.autoSelect = id === lastCustomerTurn();
    renderSuggestionSlot();
    var box = els.transcript.querySelector(".suggest");
    if (box && byHand) box.scrollIntoView({ block: "nearest" });
  }

  function turnById(id) {
    var turns = (state.current && state.current.turns) || [];
    for (var i = 0; i < turns.length; i++) if (turns[i].id === id) return turns[i];
    return null;
  }

  function renderSuggestionSlot() {
    var old = els.transcript.querySelector(".suggest");
    if (old) old.remove();
    Array.prototype.forEach.call(els.transcript.querySelectorAll(".suggest-toggle"), function (t) {
      t.setAttribute("aria-expanded", "false");
      t.closest(".turn").classList.remove("turn--selected");
    });
    var turn = turnById(state.selected);
    if (!turn) return;
    var li = els.transcript.querySelector('.turn[data-turn-id="' + turn.id + '"]');
    if (!li) return;
    li.classList.add("turn--selected");
    li.querySelector(".suggest-toggle").setAttribute("aria-expanded", "true");
    var box = node("div", "suggest");
    box.setAttribute("data-for-turn", turn.id);
    li.appendChild(box);
    var cached = state.suggestions[turn.id];
    if (cached && cached.data) { fillSuggestions(box, cached.data, insertIntoReply, isMine()); return; }
    box.appendChild(node("p", "suggest-loading", "正在生成建议回复…"));
    if (cached && cached.loading) return;
    state.suggestions[turn.id] = { loading: true };
    var query = "text=" + encodeURIComponent(turn.text) + (turn.intent ? "&intent=" + encodeURIComponent(turn.intent) : "") +
        "&conversation_id=" + encodeURIComponent(state.current.conversation_id);
    api("GET", "/api/agent/suggestions?" + query).then(function (result) {
      if (expired(result)) return;
      if (!result.ok) {
        delete state.suggestions[turn.id];
        var here = els.transcript.querySelector('.suggest[data-for-turn="' + turn.id + '"]');
        if (here) {
          here.textContent = "";
          here.appendChild(node("p", "error", message(result, "建议回复获取失败，请稍后重试")));
        }
        return;
      }
      state.suggestions[turn.id] = { data: result.data };
      var target = els.transcript.querySelector('.suggest[data-for-turn="' + turn.id + '"]');
      if (target) fillSuggestions(target, result.data, insertIntoReply, isMine());
      if (target && state.atBottom) els.transcript.scrollTop = els.transcript.scrollHeight; // it grew: stay at the end
    });
  }

  /* The templates the conversation's state calls for, then the KB answers and the intent's template in the order
     the server says (`lead`), as cards with 插入; `insert(s)` gets {kind, ref, rank, text, label}. */
  function fillSuggestions(box, data, insert, enabled) {
    box.textContent = "";
    var head = node("div", "suggest-head");
    head.appendChild(node("span", "suggest-title", "建议回复"));
    if (data.intent) head.appendChild(node("span", "intent", "意图：" + (INTENTS[data.intent] || data.intent)));
    box.appendChild(head);
    var templates = function (situational) {
      (data.templates || []).filter(function (t) { return !!t.title === situational; }).forEach(function (t) {
        var name = t.title || INTENTS[t.intent] || t.intent || t.ref;
        var c = card({ kind: "template", ref: t.ref, rank: 0, text: t.text, label: "话术模板《" + name + "》" },
                     t.title ? "按当前情况" : "话术模板", name, false, insert, enabled);
        if (t.title) c.classList.add("sugg--situation");
        box.appendChild(c);
      });
    };
    var kbAnswers = function () {
      var kb = data.kb || [];
      kb.forEach(function (k) {
        var c = card({
          kind: "kb", ref: k.article_id, rank: k.rank, text: k.text,
          label: "知识库建议 " + k.rank + "《" + k.title + "》"
        }, "知识库 " + k.rank, k.title, k.confident, insert, enabled);
        if (k.notice) c.appendChild(node("p", "sugg-notice", "仅供坐席参考：" + k.notice));
        box.appendChild(c);
      });
      if (!kb.length && data.lead !== "templates") {
        box.appendChild(node("p", "suggest-none", data.kb_available ? "知识库中没有找到相关答案" : "知识库暂不可用，仅提供话术模板"));
      }
    };
    templates(true);  // what the conversation's state calls for comes first
    if (data.lead === "templates") { templates(false); kbAnswers(); } else { kbAnswers(); templates(false); }
  }

  function card(s, tag, title, confident, insert, enabled) {
    var c = node("div", "sugg sugg--" + s.kind);
    c.setAttribute("data-kind", s.kind);
    c.setAttribute("data-rank", s.rank);
    c.setAttribute("data-ref", s.ref);
    var top = node("div", "sugg-top");
    top.appendChild(node("span", "sugg-tag", tag));
    if (confident) top.appendChild(node("span", "sugg-tag sugg-tag--best", "推荐"));
    top.appendChild(node("span", "sugg-name", title));
    var ins = button("insert", "插入", function () { insert(s); });
    ins.disabled = !enabled;
    ins.title = enabled ? "插入到回复框，可修改后发送" : "接入会话后可插入";
    ins.setAttribute("aria-label", "插入" + s.label);
    top.appendChild(ins);
    c.appendChild(top);
    var text = node("p", "sugg-text", s.text);
    text.title = "点击展开或收起全文";
    text.addEventListener("click", function () { text.classList.toggle("sugg-text--open"); });
    c.appendChild(text);
    return c;
  }

  function insertIntoReply(s) {
    if (!isMine()) return;
    var box = els.reply;
    var current = box.value;
    if (!current.trim() || (state.source && current === state.source.text)) box.value = s.text;
    else box.value = current.replace(/\s+$/, "") + "\n" + s.text;
    state.source = s;
    show(els.sendError, "");
    box.focus();
    var blank = BLANK.exec(box.value);
    if (blank) box.setSelectionRange(blank.index, blank.index + blank[0].length); // type over the first 【…】
    else box.setSelectionRange(box.value.length, box.value.length);
    box.scrollTop = blank ? 0 : box.scrollHeight;
    updateComposer();
  }

  els.sourceClear.addEventListener("click", function () {
    state.source = null;
    updateComposer();
    els.reply.focus();
  });

  // ---------- sending, joining, handing back ----------

  els.reply.addEventListener("input", function () { show(els.sendError, ""); updateComposer(); });
  els.reply.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      sendReply();
    }
  });
  els.composer.addEventListener("submit", function (event) {
    event.preventDefault();
    sendReply();
  });

  function sendReply() {
    var c = state.current;
    if (!c || !isMine() || els.send.getAttribute("aria-busy") === "true") return;
    var text = els.reply.value.trim();
    if (!text) return;
    if (text.length > MAX_REPLY) { show(els.sendError, "回复不能超过" + MAX_REPLY + "字，请分条发送"); return; }
    var blank = BLANK.exec(text);
    if (blank) {
      show(els.sendError, "回复中还有待填写的" + blank[0] + "，请替换为实际内容后再发送");
      var at = els.reply.value.indexOf(blank[0]);
      els.reply.focus();
      if (at >= 0) els.reply.setSelectionRange(at, at + blank[0].length);
      return;
    }
    var pending = state.pending;
    if (!pending || pending.conversation !== c.conversation_id || pending.text !== text) {
      pending = state.pending = { conversation: c.conversation_id, text: text, id: uuid() };
    }
    var body = { text: text, client_msg_id: pending.id };
    if (state.source) {
      body.suggestion = { kind: state.source.kind, ref: state.source.ref, rank: state.source.rank, text: state.source.text };
    }
    els.send.setAttribute("aria-busy", "true");
    els.send.disabled = true;
    els.send.textContent = "发送中…";
    var id = c.conversation_id;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(id) + "/messages", body).then(function (result) {
      els.send.removeAttribute("aria-busy");
      els.send.textContent = "发送";
      if (expired(result)) return;
      if (!result.ok) {
        updateComposer();
        show(els.sendError, result.status === 0 ? "网络异常，消息未发出，请再次点击发送" : message(result, "发送失败，请稍后重试"));
        if (result.status === 409) reloadCurrent();
        return;
      }
      state.pending = null;
      delete state.drafts[id];
      if (state.current && state.current.conversation_id === id) {
        if (els.reply.value.trim() === text) { els.reply.value = ""; state.source = null; }
        appendTurn(result.data);
        updateComposer();
        els.reply.focus();
      }
    });
  }

  function joinConversation(id) {
    state.joining[id] = true;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(id) + "/join").then(function (result) {
      delete state.joining[id];
      if (expired(result)) return;
      if (!result.ok) {
        toast(message(result, "接入失败，请稍后重试"), "error");
        scheduleRefresh();
        if (state.current && state.current.conversation_id === id) reloadCurrent();
        return;
      }
      setMode("chat");
      if (!state.current || state.current.conversation_id !== id) saveDraft();
      showConversation(result.data);
      scheduleRefresh();
      refreshMe();
      els.reply.focus();
    });
  }

  els.join.addEventListener("click", function () { if (state.current) joinConversation(state.current.conversation_id); });

  els.transferGo.addEventListener("click", function () {
    var c = state.current;
    var to = els.transferTo.value;
    if (!c || !to) return;
    var name = agentName(to);
    els.transferGo.disabled = true;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(c.conversation_id) + "/transfer",
        { to: to, reason: "值班长调配" }).then(function (result) {
      els.transferGo.disabled = false;
      if (expired(result)) return;
      if (!result.ok) {
        toast(message(result, "转接失败，请稍后重试"), "error");
        reloadCurrent();
        return;
      }
      if (state.current && state.current.conversation_id === c.conversation_id) showConversation(result.data);
      toast("已转给 " + name);
      scheduleRefresh();
      loadAgents();
    });
  });

  els.release.addEventListener("click", function () {
    var c = state.current;
    if (!c) return;
    els.release.disabled = true;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(c.conversation_id) + "/release").then(function (result) {
      els.release.disabled = false;
      if (expired(result)) return;
      if (!result.ok) {
        toast(message(result, "交还失败，请稍后重试"), "error");
        reloadCurrent();
        return;
      }
      delete state.drafts[c.conversation_id];
      state.pending = null;
      if (state.current && state.current.conversation_id === c.conversation_id) {
        els.reply.value = "";
        state.source = null;
        showConversation(result.data);
      }
      toast("已交还智能客服继续服务");
      scheduleRefresh();
      refreshMe();
    });
  });

  // ---------- live updates ----------

  function setLive(stateName) {
    els.live.setAttribute("data-state", stateName);
    els.liveText.textContent = { online: "实时连接正常", connecting: "连接中…", offline: "连接中断，正在重连…" }[stateName];
  }

  function connect() {
    if (!state.running) return;
    var url = (window.location.protocol === "https:" ? "wss:" : "ws:") + "//" + window.location.host + "/api/agent/live";
    var ws;
    try { ws = new WebSocket(url); } catch (e) { reconnectLater(); return; }
    state.socket = ws;
    setLive(state.retry ? "offline" : "connecting");
    ws.onopen = function () {
      if (state.socket !== ws) return;
      var again = state.retry > 0;
      state.retry = 0;
      setLive("online");
      window.clearInterval(state.pingTimer);
      state.pingTimer = window.setInterval(function () {
        if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "ping" }));
      }, PING_MS);
      if (again) refreshAll();
    };
    ws.onmessage = function (event) {
      if (state.socket !== ws) return;
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      onEvent(data);
    };
    ws.onclose = function (event) {
      window.clearInterval(state.pingTimer);
      if (state.socket !== ws) return;
      state.socket = null;
      if (!state.running) return;
      setLive("offline");
      if (event.code === 1008) { // refused: signed out or not an agent any more
        api("GET", "/api/agent/me").then(function (result) {
          if (expired(result)) return;
          if (result.status === 403) { session.signOut(message(result, "您的账号没有权限使用坐席工作台")); return; }
          reconnectLater();
        });
        return;
      }
      reconnectLater();
    };
  }

  function reconnectLater() {
    if (!state.running) return;
    state.retry += 1;
    var delay = Math.min(RETRY_MAX_MS, 1000 * Math.pow(2, state.retry - 1)) + Math.floor(Math.random() * 400);
    window.clearTimeout(state.retryTimer);
    state.retryTimer = window.setTimeout(connect, delay);
  }

  window.addEventListener("online", function () {
    if (state.running && !state.socket) { window.clearTimeout(state.retryTimer); connect(); }
  });

  function refreshAll() {
    refreshMe();
    refreshLists();
    reloadCurrent();
    if (isSupervisor()) loadTeams();
  }

  function onEvent(event) {
    var c = state.current;
    var here = c && event.conversation_id === c.conversation_id;
    switch (event.type) {
      case "queue":
        scheduleRefresh();
        refreshMe();
        break;
      case "turn":
        if (here) {
          c.owner = event.owner || c.owner;
          appendTurn(event.turn);
        } else if (event.turn && event.turn.sender === "customer" &&
                   (event.owner === myOwner() || inQueue(event.conversation_id))) {
          state.unread[event.conversation_id] = (state.unread[event.conversation_id] || 0) + 1;
        }
        scheduleRefresh();
        break;
      case "owner":
        if (here) {
          c.owner = event.owner;
          appendTurn(event.turn);
          renderChatHead();
        } else if (event.owner === myOwner() && !state.joining[event.conversation_id]) {
          toast("新会话已分配给您，请及时接待");
          if (!c || c.owner !== myOwner()) openConversation(event.conversation_id);
        }
        scheduleRefresh();
        refreshMe();
        break;
      case "agents":
        refreshMe();
        if (isSupervisor()) { loadTeams(); loadAgents(); }
        break;
      default:
        break;
    }
  }

  // ---------- modes ----------

  function setMode(mode) {
    state.mode = mode;
    els.tabChat.setAttribute("aria-selected", mode === "chat" ? "true" : "false");
    els.tabHotline.setAttribute("aria-selected", mode === "hotline" ? "true" : "false");
    els.chatPane.hidden = mode !== "chat";
    els.hotlinePane.hidden = mode !== "hotline";
    render360();
  }

  els.tabChat.addEventListener("click", function () { setMode("chat"); });
  els.tabHotline.addEventListener("click", function () {
    setMode("hotline");
    els.lookup.focus();
  });

  // ---------- hotline ----------

  function hotlineHint() {
    els.hotlineSuggestions.textContent = "";
    els.hotlineSuggestions.appendChild(node("p", "empty",
      "输入客户问题后，这里显示知识库答案和话术模板，\n点击“插入”放入下方答复话术。"));
  }

  function validQuery(q) { return /^\d{10}$/.test(q) || /^1[3-9]\d{9}$/.test(q); }

  /* Find customers by 户号 or mobile: one → pick(customer, q); several → a list to pick from; errors in errorEl. */
  function searchCustomers(raw, errorEl, matchesEl, pick) {
    var q = digits(raw);
    show(errorEl, "");
    matchesEl.hidden = true;
    matchesEl.textContent = "";
    if (!validQuery(q)) { show(errorEl, "请输入10位户号或11位手机号"); return; }
    api("GET", "/api/customers/search?q=" + encodeURIComponent(q)).then(function (result) {
      if (expired(result)) return;
      if (!result.ok) { show(errorEl, message(result, "客户查询失败，请稍后重试")); return; }
      var found = result.data || [];
      if (!found.length) { show(errorEl, "未找到 " + q + " 对应的用电客户，请核对号码"); return; }
      if (found.length === 1) { pick(found[0], q); return; }
      matchesEl.appendChild(node("li", "matches-head", "该号码下有 " + found.length + " 个户号，请选择："));
      found.forEach(function (c) {
        var li = node("li");
        var b = button("match", null, function () { matchesEl.hidden = true; pick(c, q); });
        b.appendChild(node("strong", null, c.name + " · " + c.account_no));
        b.appendChild(node("span", null, c.address));
        li.appendChild(b);
        matchesEl.appendChild(li);
      });
      matchesEl.hidden = false;
    });
  }

  els.lookupForm.addEventListener("submit", function (event) {
    event.preventDefault();
    searchCustomers(els.lookup.value, els.lookupError, els.matches, function (customer, q) {
      state.hotlineAccount = customer.account_no;
      state.hotlineCustomer = customer;
      state.hotlinePhone = /^1/.test(q) ? q : customer.mobile;
      render360();
      els.question.focus();
    });
  });

  els.askForm.addEventListener("submit", function (event) {
    event.preventDefault();
    askHotline();
  });
  els.question.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      askHotline();
    }
  });

  function askHotline() {
    var text = els.question.value.trim();
    show(els.askError, "");
    if (!text) { show(els.askError, "请输入客户的问题"); return; }
    els.hotlineSuggestions.textContent = "";
    els.hotlineSuggestions.appendChild(node("p", "suggest-loading", "正在生成建议回复…"));
    var account = state.hotlineCustomer && state.hotlineCustomer.account_no;
    api("GET", "/api/agent/suggestions?text=" + encodeURIComponent(text) +
        (account ? "&account_no=" + encodeURIComponent(account) : "")).then(function (result) {
      if (expired(result)) return;
      if (!result.ok) {
        hotlineHint();
        show(els.askError, message(result, "建议回复获取失败，请稍后重试"));
        return;
      }
      els.hotlineSuggestions.textContent = "";
      state.hotlineIntent = result.data.intent;
      var box = node("div", "suggest suggest--hotline");
      fillSuggestions(box, result.data, function (s) {
        els.hotlineDraft.hidden = false;
        els.script.value = s.text;
        els.script.focus();
        var blank = BLANK.exec(s.text);
        if (blank) els.script.setSelectionRange(blank.index, blank.index + blank[0].length);
      }, true);
      els.hotlineSuggestions.appendChild(box);
    });
  }

  els.hotlineTicket.addEventListener("click", function () {
    var customer = state.hotlineCustomer;
    openTicket({
      type: TICKET_BY_INTENT[state.hotlineIntent] || "咨询回访",
      account_no: customer ? customer.account_no : null,
      contact_phone: state.hotlinePhone || (customer ? customer.mobile : null),
      address_text: customer ? customer.address : "",
      description: els.question.value.trim(),
      conversation_id: null,
      channel: "hotline"
    }, "热线来电" + (customer ? " · " + customer.name + "（户号 " + customer.account_no + "）" : ""));
  });

  // ---------- 客户360 ----------

  function accountNow() {
    if (state.mode === "hotline") return state.hotlineAccount;
    var c = state.current;
    if (!c) return null;
    return c.account_no || state.chatAccounts[c.conversation_id] || null;
  }

  /* Numbers the customer typed in the chat: offered as one-click lookups. */
  function detectedNumbers() {
    var found = [];
    ((state.current && state.current.turns) || []).forEach(function (t) {
      if (t.sender !== "customer" || !t.text) return;
      var text = digits(t.text);
      (text.match(/(?:^|\D)(1[3-9]\d{9}|\d{10})(?!\d)/g) || []).forEach(function (m) {
        var n = m.replace(/\D/g, "");
        if (found.indexOf(n) < 0) found.push(n);
      });
    });
    return found.slice(0, 4);
  }

  function render360() {
    var account = accountNow();
    var c = state.current;
    els.c360Change.hidden = !account || (state.mode === "chat" && c && !!c.account_no);
    if (!account) {
      state.shown360 = null;
      state.customer360 = null;
      disposeChart();
      els.c360Body.hidden = true;
      els.c360Body.textContent = "";
      els.c360Lookup.hidden = state.mode === "hotline";
      els.c360Hint.textContent = state.mode === "hotline" ? "" :
        (c ? "当前会话未关联户号，可输入客户户号或手机号查询。" : "打开会话后，这里显示客户的户号、余额、账单、负荷和工单。");
      els.c360Detected.textContent = "";
      if (state.mode === "hotline") {
        els.c360Body.hidden = false;
        els.c360Body.appendChild(node("p", "empty", "输入来电号码或户号查询后，\n这里显示客户360信息。"));
      } else if (c) {
        detectedNumbers().forEach(function (n) {
          els.c360Detected.appendChild(button("chip chip--pick", "查询 " + n, function () {
            els.c360Q.value = n;
            lookup360();
          }));
        });
      }
      els.c360Lookup.querySelector(".inline").hidden = !c;
      return;
    }
    els.c360Lookup.hidden = true;
    els.c360Body.hidden = false;
    if (state.shown360 === account) return;
    state.shown360 = account;
    loadOverview(account);
  }

  function lookup360() {
    searchCustomers(els.c360Q.value, els.c360Error, els.c360Matches, function (customer) {
      if (!state.current) return;
      state.chatAccounts[state.current.conversation_id] = customer.account_no;
      els.c360Q.value = "";
      render360();
    });
  }

  els.c360Lookup.addEventListener("submit", function (event) {
    event.preventDefault();
    lookup360();
  });

  els.c360Change.addEventListener("click", function () {
    if (state.mode === "hotline") {
      state.hotlineAccount = null;
      state.hotlineCustomer = null;
      render360();
      els.lookup.select();
      els.lookup.focus();
    } else if (state.current) {
      delete state.chatAccounts[state.current.conversation_id];
      render360();
      els.c360Q.focus();
    }
  });

  function reload360() {
    state.shown360 = null;
    render360();
  }

  function loadOverview(account) {
    var seq = ++state.seq360;
    disposeChart();
    state.customer360 = null;
    els.c360Body.textContent = "";
    els.c360Body.appendChild(node("p", "suggest-loading", "正在加载客户信息…"));
    api("GET", "/api/customers/" + encodeURIComponent(account) + "/overview").then(function (result) {
      if (seq !== state.seq360) return;
      if (expired(result)) return;
      els.c360Body.textContent = "";
      if (!result.ok) {
        state.shown360 = null;
        els.c360Body.appendChild(node("p", "error", message(result, "客户信息加载失败，请稍后重试")));
        return;
      }
      fill360(result.data);
    });
  }

  function section(title, extra) {
    var s = node("section", "c360-sec");
    var h = node("h3", null, title);
    if (extra) h.appendChild(node("span", "sec-extra", extra));
    s.appendChild(h);
    return s;
  }

  /* [label, value, wide]: two pairs a row, a wide one takes the whole row. */
  function dl(pairs) {
    var d = node("dl", "kv");
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") return;
      d.appendChild(node("dt", null, p[0]));
      var dd = node("dd", p[2] ? "kv-wide" : null, p[1]);
      d.appendChild(dd);
    });
    return d;
  }

  function fill360(o) {
    var body = els.c360Body;
    var cu = o.customer;
    state.customer360 = cu;
    body.setAttribute("data-account", cu.account_no);

    var id = node("div", "c360-id");
    var name = node("p", "c360-name");
    name.appendChild(node("strong", null, cu.name));
    name.appendChild(node("span", "tag", cu.customer_class));
    name.appendChild(node("span", "tag", cu.area_class));
    id.appendChild(name);
    id.appendChild(node("p", "c360-line", "户号 " + cu.account_no + " · 手机 " + cu.mobile));
    id.appendChild(node("p", "c360-line", cu.address));
    body.appendChild(id);

    // money first: what callers ask about most
    var money = node("div", "c360-money");
    var bal = node("div", "money-box");
    bal.appendChild(node("span", "money-label", "账户余额"));
    if (o.balance) {
      var v = node("strong", "money-value" + (o.balance.in_arrears ? " money-value--bad" : ""),
        (o.balance.in_arrears ? "欠费 " + o.balance.arrears_yuan : o.balance.balance_yuan) + " 元");
      bal.appendChild(v);
      bal.appendChild(node("span", "money-note", "更新于 " + fmt(dayFmt, o.balance.updated_at)));
    } else {
      bal.appendChild(node("strong", "money-value", "—"));
      bal.appendChild(node("span", "money-note", "暂无余额信息"));
    }
    money.appendChild(bal);
    var unpaid = node("div", "money-box");
    unpaid.appendChild(node("span", "money-label", "未缴电费"));
    unpaid.appendChild(node("strong", "money-value" + (o.bills.unpaid_count ? " money-value--bad" : ""),
      o.bills.unpaid_yuan + " 元"));
    unpaid.appendChild(node("span", "money-note", o.bills.unpaid_count ? o.bills.unpaid_count + " 笔未缴" : "无欠缴账单"));
    money.appendChild(unpaid);
    body.appendChild(money);

    var acct = section("户号与合同");
    var area = o.meter && o.meter.area_state;
    acct.appendChild(dl([
      ["用电类别", cu.customer_class],
      ["合同容量", cu.contract_capacity_kva + " kVA"],
      ["电价", TARIFFS[cu.tariff_code] ? TARIFFS[cu.tariff_code] + "（" + cu.tariff_code + "）" : cu.tariff_code, true],
      ["所属台区", area ? area.area_name + "（" + area.area_code + "）· " + area.feeder_name : cu.transformer_area_code, true],
      ["电能表", o.meter ? o.meter.meter_no : "未装表"],
      ["立户日期", cu.opened_on]
    ]));
    body.appendChild(acct);

    var total = (o.daily || []).reduce(function (sum, d) { return sum + (d.kwh || 0); }, 0);
    var loadSec = section("近7天负荷", "7日用电 " + total.toFixed(1) + " kWh");
    var chart = node("div", "chart");
    chart.id = "load-chart";
    chart.setAttribute("role", "img");
    chart.setAttribute("aria-label", "近7天每小时负荷曲线");
    loadSec.appendChild(chart);
    if (area) {
      loadSec.appendChild(node("p", "area-line" + (area.meters_lost_voltage_last_hour ? " area-line--bad" : ""),
        "台区当前：" + area.meters_total + " 户中 " + area.meters_lost_voltage_last_hour + " 户近1小时失压" +
        (area.overloaded ? "，台区过载" : "")));
    }
    body.appendChild(loadSec);

    var bills = section("近期账单");
    if (!o.bills.bills.length) bills.appendChild(node("p", "none", "暂无账单记录"));
    else {
      var table = node("table", "bills");
      var thead = node("thead");
      var hr = node("tr");
      ["账期", "电量", "金额", "状态"].forEach(function (h) { hr.appendChild(node("th", null, h)); });
      thead.appendChild(hr);
      table.appendChild(thead);
      var tb = node("tbody");
      o.bills.bills.slice(0, 6).forEach(function (b) {
        var tr = node("tr");
        tr.appendChild(node("td", null, b.period));
        tr.appendChild(node("td", "num", b.kwh + " kWh"));
        tr.appendChild(node("td", "num", b.amount_yuan + " 元"));
        tr.appendChild(node("td", b.paid ? "paid" : "unpaid", b.paid ? "已缴" : "未缴（" + b.due_date.slice(5) + "到期）"));
        tb.appendChild(tr);
      });
      table.appendChild(tb);
      bills.appendChild(table);
    }
    body.appendChild(bills);

    var ev = section("电表事件", "近30天");
    if (!o.events.length) ev.appendChild(node("p", "none", "近30天无电表事件"));
    else {
      var ul = node("ul", "events");
      o.events.slice(0, 8).forEach(function (e) {
        var li = node("li", /停电|失压|断相/.test(e.kind) ? "event--bad" : "");
        li.appendChild(node("time", null, fmt(dayFmt, e.ts)));
        li.appendChild(node("strong", null, e.kind + (e.phase ? "（" + e.phase + "相）" : "")));
        if (e.detail) li.appendChild(node("span", null, e.detail));
        ul.appendChild(li);
      });
      ev.appendChild(ul);
    }
    body.appendChild(ev);

    var open = o.tickets.filter(function (t) { return t.open; });
    var past = o.tickets.filter(function (t) { return !t.open; });
    var tk = section("工单", open.length ? open.length + " 张处理中" : "");
    if (!o.tickets.length) tk.appendChild(node("p", "none", "暂无工单记录"));
    else {
      var tl = node("ul", "tickets");
      open.concat(past).slice(0, 10).forEach(function (t) {
        var li = node("li", t.open ? "ticket--open" : "ticket--closed");
        li.setAttribute("data-number", t.number);
        var row = node("div", "ticket-row");
        row.appendChild(node("strong", "ticket-no", t.number));
        row.appendChild(node("span", "tag", t.type));
        row.appendChild(node("span", "tag " + (t.open ? "tag--open" : "tag--done"), t.status));
        li.appendChild(row);
        var told = toldLine(t.status, t.status_told);
        if (told) li.appendChild(told);
        li.appendChild(node("p", "ticket-sum", fmt(dayFmt, t.created_at) + " · " + t.summary));
        if (t.parent) li.appendChild(parentTicket(t.parent));
        tl.appendChild(li);
      });
      tk.appendChild(tl);
    }
    body.appendChild(tk);

    drawLoad(chart, o.load || []);
  }

  /* What the customer was told of a status (api.core.vocabulary.TICKET_STATUS_TOLD), next to the status. */
  function toldLine(status, told) {
    if (!told || told === status) return null;
    var p = node("p", "ticket-told", "客户看到：");
    p.appendChild(node("b", null, told));
    return p;
  }

  /* The area ticket a report was attached to: number, status, crew and deadline; the number opens its timeline. */
  function parentTicket(parent) {
    var box = node("div", "ticket-parent");
    box.setAttribute("data-parent", parent.number);
    var head = node("div", "ticket-parent-head");
    head.appendChild(node("span", "ticket-parent-label", "已并入区域抢修工单"));
    var open = button("ticket-parent-no", parent.number, function () { toggleParentEvents(box, parent.number, open); });
    open.setAttribute("aria-expanded", "false");
    open.title = "查看区域工单进展";
    head.appendChild(open);
    head.appendChild(node("span", "tag", parent.status));
    box.appendChild(head);
    var told = toldLine(parent.status, parent.status_told);
    if (told) box.appendChild(told);
    var work = [parent.crew ? "处理班组：" + parent.crew.name : "尚未派给班组"];
    if (parent.crew_eta) work.push("预计 " + fmt(dayFmt, parent.crew_eta) + " 到达");
    work.push("最迟 " + fmt(dayFmt, parent.arrive_by) + " 到场");
    box.appendChild(node("p", "ticket-parent-line", work.join(" · ")));
    return box;
  }

  function toggleParentEvents(box, number, toggle) {
    var shown = box.querySelector(".ticket-parent-events");
    if (shown) {
      shown.remove();
      toggle.setAttribute("aria-expanded", "false");
      return;
    }
    var list = node("ul", "ticket-parent-events");
    list.appendChild(node("li", "suggest-loading", "正在加载区域工单进展…"));
    box.appendChild(list);
    toggle.setAttribute("aria-expanded", "true");
    api("GET", "/api/tickets/" + encodeURIComponent(number)).then(function (result) {
      if (expired(result) || !list.isConnected) return;
      list.textContent = "";
      if (!result.ok) { list.appendChild(node("li", "error", message(result, "区域工单加载失败，请稍后重试"))); return; }
      (result.data.events || []).slice(-6).forEach(function (e) {
        var li = node("li");
        li.appendChild(node("time", null, fmt(dayFmt, e.at)));
        li.appendChild(node("span", null, e.action + (e.note ? "：" + e.note : "")));
        list.appendChild(li);
      });
      if (!list.children.length) list.appendChild(node("li", "none", "暂无进展记录"));
    });
  }

  function disposeChart() {
    if (state.chart) { state.chart.dispose(); state.chart = null; }
  }

  function drawLoad(el, points) {
    disposeChart();
    if (!points.length) { el.classList.add("chart--empty"); el.textContent = "近7天无负荷数据"; return; }
    if (!window.echarts) { el.classList.add("chart--empty"); el.textContent = "图表组件加载失败"; return; }
    state.chart = window.echarts.init(el, null, { renderer: "canvas" });
    state.chart.setOption({
      animation: false,
      grid: { left: 40, right: 10, top: 22, bottom: 24 },
      tooltip: {
        trigger: "axis",
        formatter: function (items) {
          var p = items[0];
          return dayFmt.format(new Date(p.value[0])) + "<br>" + p.value[1].toFixed(2) + " kW";
        }
      },
      xAxis: {
        type: "time",
        axisLine: { lineStyle: { color: "#c9d3d2" } },
        axisLabel: { color: "#86939a", fontSize: 11, hideOverlap: true, formatter: "{MM}-{dd}" },
        splitNumber: 7
      },
      yAxis: {
        type: "value", name: "kW", nameGap: 8,
        nameTextStyle: { color: "#86939a", fontSize: 11, align: "right" },
        axisLabel: { color: "#86939a", fontSize: 11 },
        splitLine: { lineStyle: { color: "#eef2f1" } }
      },
      series: [{
        type: "line", showSymbol: false, smooth: false, sampling: "lttb",
        lineStyle: { width: 1.5, color: "#00736a" },
        itemStyle: { color: "#00736a" },
        areaStyle: { color: "rgba(0, 115, 106, 0.12)" },
        data: points.map(function (p) { return [Date.parse(p.ts), p.kw]; })
      }]
    });
  }

  window.addEventListener("resize", function () { if (state.chart) state.chart.resize(); });

  // ---------- tickets ----------

  els.ticket.addEventListener("click", function () {
    var c = state.current;
    if (!c) return;
    els.ticket.disabled = true;
    api("GET", "/api/agent/conversations/" + encodeURIComponent(c.conversation_id) + "/ticket-draft").then(function (result) {
      els.ticket.disabled = false;
      if (expired(result)) return;
      if (!result.ok) { toast(message(result, "工单草稿生成失败，请稍后重试"), "error"); return; }
      var draft = result.data;
      if (!draft.account_no) draft.account_no = state.chatAccounts[c.conversation_id] || null;
      var cu = state.customer360; // the customer in the 360 view fills what the chat did not say
      if (cu && accountNow() === cu.account_no && (!draft.account_no || draft.account_no === cu.account_no)) {
        draft.account_no = cu.account_no;
        draft.contact_phone = draft.contact_phone || cu.mobile;
        draft.address_text = draft.address_text || cu.address;
      }
      openTicket(draft, "来自" + (CHANNELS[draft.channel] || draft.channel) + "会话 · " + convName(c));
    });
  });

  function openTicket(draft, from) {
    state.ticketContext = { draft: draft, key: uuid() };
    els.ticketFrom.textContent = from + "（已按对话内容预填，请核对后提交）";
    els.tType.value = draft.type || "咨询回访";
    els.tKind.value = "outage";
    els.tService.value = "新装";
    els.tSubject.value = "";
    els.tAccount.value = draft.account_no || "";
    els.tPhone.value = draft.contact_phone || "";
    els.tAddress.value = draft.address_text || "";
    els.tDescription.value = draft.description || "";
    show(els.ticketError, "");
    els.ticketDone.hidden = true;
    els.ticketSubmit.hidden = false;
    els.ticketSubmit.disabled = false;
    els.ticketCancel.textContent = "取消";
    setFormEnabled(true);
    typeFields();
    if (!els.dialog.open) els.dialog.showModal();
    els.tDescription.focus();
  }

  function setFormEnabled(on) {
    [els.tType, els.tKind, els.tService, els.tSubject, els.tAccount, els.tPhone, els.tAddress, els.tDescription]
      .forEach(function (f) { f.disabled = !on; });
  }

  function typeFields() {
    var type = els.tType.value;
    var conditional = els.ticketForm.querySelectorAll("[data-for]");
    Array.prototype.forEach.call(conditional, function (el) { el.hidden = el.getAttribute("data-for") !== type; });
    els.tPhone.placeholder = type === "故障报修" ? "11位手机号（户号、电话、地址至少填一项）" : "11位手机号（必填）";
  }

  els.tType.addEventListener("change", typeFields);
  els.ticketCancel.addEventListener("click", function () { els.dialog.close(); });
  els.ticketClose.addEventListener("click", function () { els.dialog.close(); });

  els.ticketForm.addEventListener("submit", function (event) {
    event.preventDefault();
    submitTicket();
  });

  function ticketBody() {
    var ctx = state.ticketContext;
    var type = els.tType.value;
    var account = digits(els.tAccount.value);
    var phone = digits(els.tPhone.value);
    var address = els.tAddress.value.trim();
    var description = els.tDescription.value.trim();
    if (account && !/^\d{10}$/.test(account)) return { error: "户号应为10位数字" };
    if (phone && !/^1[3-9]\d{9}$/.test(phone)) return { error: "联系电话应为11位手机号" };
    if (!description) return { error: "请填写问题描述" };
    var common = {
      account_no: account || null, description: description, address_text: address,
      channel: ctx.draft.channel || "web", conversation_id: ctx.draft.conversation_id || null,
      idempotency_key: ctx.key
    };
    if (type === "故障报修") {
      if (!account && !phone && !address) return { error: "故障报修请至少填写户号、联系电话或地址中的一项" };
      common.kind = els.tKind.value;
      common.phone = phone || null;
      return { path: "/api/tickets/faults", body: common };
    }
    if (!phone) return { error: "请填写客户的联系电话（11位手机号）" };
    common.type = type;
    common.phone = phone;
    if (type === "业务办理") common.service_type = els.tService.value;
    if (type === "投诉") common.subject = els.tSubject.value.trim() || null;
    return { path: "/api/tickets", body: common };
  }

  function submitTicket() {
    if (!state.ticketContext) return;
    var built = ticketBody();
    if (built.error) { show(els.ticketError, built.error); return; }
    show(els.ticketError, "");
    els.ticketSubmit.disabled = true;
    els.ticketSubmit.textContent = "提交中…";
    api("POST", built.path, built.body).then(function (result) {
      els.ticketSubmit.disabled = false;
      els.ticketSubmit.textContent = "提交工单";
      if (expired(result)) return;
      if (!result.ok) { show(els.ticketError, ticketError(result)); return; }
      var t = result.data;
      els.ticketNumber.textContent = t.number;
      var said = t.status_told && t.status_told !== t.status ? "（客户看到：" + t.status_told + "）" : "";
      var area = t.parent ? "；已并入区域抢修工单 " + t.parent.number + "（" + t.parent.status + "），" +
        (t.parent.crew ? "处理班组 " + t.parent.crew.name + "，" : "") + "最迟 " + fmt(dayFmt, t.parent.arrive_by) + " 到场"
        : (t.attached_to_existing ? "（已并入同一故障的在办工单）" : "");
      els.ticketStatus.textContent = "当前状态：" + t.status + said + area;
      els.ticketDone.hidden = false;
      els.ticketSubmit.hidden = true;
      els.ticketCancel.textContent = "关闭";
      setFormEnabled(false);
      toast("工单 " + t.number + " 已创建");
      var account = built.body.account_no;
      if (account && accountNow() === account) reload360();
    });
  }

  function ticketError(result) {
    var detail = result.data && result.data.detail;
    var text = message(result, "工单提交失败，请稍后重试");
    if (detail && Array.isArray(detail.errors) && detail.errors.length) {
      var fields = detail.errors.map(function (e) {
        var loc = (e.loc || []).filter(function (x) { return x !== "body"; });
        return FIELD_NAMES[loc[loc.length - 1]] || loc.join(".") || e.msg;
      }).filter(function (x, i, all) { return x && all.indexOf(x) === i; });
      if (fields.length) text += "：请检查" + fields.join("、");
    }
    return text;
  }

  // ---------- start ----------

  session.start();
})();
