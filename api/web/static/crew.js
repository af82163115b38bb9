/* 智电 · 抢修班组 — the crews' mobile page. Plain JS, no build step, no external assets.
 *
 * POST /api/staff/login sets an HttpOnly session cookie; every later call sends it (same origin),
 * so this script never sees a token. GET /api/tickets/crew lists the crew's open tickets;
 * POST /api/tickets/{number}/transitions {action, note} moves one (接单/到达现场/处理完成/退单).
 */
(function () {
  "use strict";

  var REFRESH_MS = 30000;
  var LATE_MS = 15 * 60 * 1000; // the deadline turns red below 15 minutes left
  var STEPS = [ // the crew's steps, in the order they appear on a card
    { action: "accept", label: "接单" },
    { action: "arrive", label: "到达现场" },
    { action: "resolve", label: "处理完成", note: "处理说明（选填）", placeholder: "如：更换了进户线熔断器" },
    { action: "reject", label: "退单", note: "退单原因（必填）", placeholder: "请说明无法接单的原因", required: true,
      kind: "reject" }
  ];
  var MSG_FAILED = "操作失败，请稍后重试";
  var MSG_EXPIRED = "登录已过期，请重新登录";

  var els = {
    who: document.getElementById("who"),
    logout: document.getElementById("logout"),
    loginView: document.getElementById("login-view"),
    loginForm: document.getElementById("login-form"),
    username: document.getElementById("username"),
    password: document.getElementById("password"),
    loginError: document.getElementById("login-error"),
    loginSubmit: document.getElementById("login-submit"),
    ticketsView: document.getElementById("tickets-view"),
    count: document.getElementById("count"),
    updated: document.getElementById("updated"),
    refresh: document.getElementById("refresh"),
    listError: document.getElementById("list-error"),
    list: document.getElementById("list")
  };

  var timer = null;
  var loading = false;
  var busy = false; // a transition is in flight

  var timeFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false
  });
  var dayFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", month: "long", day: "numeric", hour: "2-digit", minute: "2-digit", hour12: false
  });
  var clockFmt = new Intl.DateTimeFormat("zh-CN", {
    timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false
  });

  var api = ZhidianStaff.api;
  var message = ZhidianStaff.message;
  var show = ZhidianStaff.show;

  // ---------- views ----------

  function showLogin() {
    stopTimer();
    els.ticketsView.hidden = true;
    els.loginView.hidden = false;
    els.list.textContent = "";
  }

  function showTickets() {
    els.loginView.hidden = true;
    els.ticketsView.hidden = false;
    loadTickets();
    startTimer();
  }

  function startTimer() {
    stopTimer();
    timer = window.setInterval(function () {
      // never wipe a note being written
      if (!busy && !els.list.querySelector(".note")) loadTickets();
    }, REFRESH_MS);
  }

  function stopTimer() {
    if (timer !== null) window.clearInterval(timer);
    timer = null;
  }

  // ---------- sign-in ----------

  var session = ZhidianStaff.signIn({
    form: els.loginForm, username: els.username, password: els.password, error: els.loginError,
    submit: els.loginSubmit, logout: els.logout, who: els.who,
    onSignedIn: showTickets, onSignedOut: showLogin
  });

  els.refresh.addEventListener("click", function () { loadTickets(); });

  // ---------- the list ----------

  function loadTickets() {
    if (loading) return;
    loading = true;
    els.refresh.disabled = true;
    api("GET", "/api/tickets/crew").then(function (result) {
      loading = false;
      els.refresh.disabled = false;
      if (result.status === 401) {
        session.signOut(MSG_EXPIRED);
        return;
      }
      if (!result.ok) {
        show(els.listError, message(result, "工单加载失败，请稍后刷新"));
        if (result.status === 403) { // not a crew account: nothing to refresh
          els.list.textContent = "";
          els.list.appendChild(node("p", "empty", "本页面仅供抢修班组使用，\n请退出后使用班组账号登录。"));
          els.count.textContent = "";
          els.updated.textContent = "";
          stopTimer();
        }
        return;
      }
      show(els.listError, "");
      render(result.data || []);
      els.updated.textContent = "更新于 " + clockFmt.format(new Date());
    });
    loadDuty();
  }

  // Off shift, the list stays empty of new work: say so, and when the next shift starts.
  function loadDuty() {
    var duty = document.getElementById("duty");
    api("GET", "/api/dispatch/crews/me").then(function (result) {
      if (!result.ok || !result.data || result.data.on_shift) { duty.hidden = true; return; }
      var next = result.data.next_shift_starts_at;
      duty.textContent = "您的班组当前不在值班时间，系统不会派来新工单" +
        (next ? "；下一班 " + dayFmt.format(new Date(next)) + " 开始。" : "，目前没有排班。") +
        "手上已有的工单请继续处理完。";
      duty.hidden = false;
    });
  }

  function render(items) {
    els.count.textContent = "（" + items.length + "）";
    els.list.textContent = "";
    if (!items.length) {
      var empty = document.createElement("p");
      empty.className = "empty";
      empty.textContent = "暂无待处理工单";
      els.list.appendChild(empty);
      return;
    }
    items.forEach(function (item) { els.list.appendChild(card(item)); });
  }

  function node(tag, className, text) {
    var el = document.createElement(tag);
    if (className) el.className = className;
    if (text !== undefined && text !== null) el.textContent = text;
    return el;
  }

  function priorityLabel(priority) {
    return ({ 1: "特急", 2: "紧急", 3: "一般" })[priority] || ("优先级 " + priority);
  }

  function deadline(iso) {
    var el = node("span", "deadline");
    var at = Date.parse(iso);
    if (!iso || isNaN(at)) { el.textContent = "—"; return el; }
    var left = at - Date.now();
    var minutes = Math.round(Math.abs(left) / 60000);
    el.textContent = timeFmt.format(new Date(at)) +
      (left < 0 ? "（已超时 " + minutes + " 分钟）" : "（剩余 " + minutes + " 分钟）");
    if (left < LATE_MS) el.className += " deadline--late";
    return el;
  }

  // A geo: link opens the phone's map app at the premises; the coordinates are shown to read out too.
  function navigation(lat, lon, label) {
    var wrap = node("span", "nav");
    var link = node("a", "nav-link", "打开地图导航");
    var point = lat.toFixed(6) + "," + lon.toFixed(6);
    link.href = "geo:" + point + "?q=" + point + "(" + encodeURIComponent(label || "报修地点") + ")";
    wrap.appendChild(link);
    wrap.appendChild(node("span", "coords", "（" + lat.toFixed(5) + ", " + lon.toFixed(5) + "）"));
    return wrap;
  }

  function items(className, texts) {
    var list = node("ul", className);
    texts.forEach(function (text) { list.appendChild(node("li", null, text)); });
    return list;
  }

  function field(dl, label, value) {
    dl.appendChild(node("dt", null, label));
    var dd = node("dd");
    if (value instanceof Node) dd.appendChild(value); else dd.textContent = value || "—";
    dl.appendChild(dd);
  }

  function card(item) {
    var t = item.ticket;
    var article = node("article", "card ticket");
    article.setAttribute("data-number", t.number);

    var head = node("div", "ticket-head");
    head.appendChild(node("span", "number", t.number));
    var tags = node("div", "tags");
    tags.appendChild(node("span", "tag", t.type));
    tags.appendChild(node("span", "tag tag--p" + t.priority, priorityLabel(t.priority)));
    tags.appendChild(node("span", "tag status", t.status));
    head.appendChild(tags);
    article.appendChild(head);

    var dl = node("dl", "fields");
    field(dl, "地址", t.address_text);
    if (item.lat !== null && item.lat !== undefined && item.lon !== null && item.lon !== undefined) {
      field(dl, "导航", navigation(item.lat, item.lon, t.address_text));
    }
    if (t.description) {  // a ticket the meters opened has the detection, not a customer's words
      if (t.channel === "monitoring") field(dl, "监测发现", t.description);
      else field(dl, "客户原话", "“" + t.description + "”");
    }
    var phone = null;
    if (item.contact_phone) {
      phone = node("a", "phone", item.contact_phone);
      phone.href = "tel:" + item.contact_phone;
    }
    field(dl, "客户电话", phone);
    // the diagnosis written for the crew; the customer's sentence (diagnosis.summary) is never shown here
    var dx = t.diagnosis || {};
    if (dx.likely_cause) field(dl, "故障研判", dx.likely_cause);
    if (dx.meter_facts && dx.meter_facts.length) field(dl, "计量数据", items("facts", dx.meter_facts));
    if (dx.bring && dx.bring.length) field(dl, "携带", items("bring", dx.bring));
    if (dx.crew_note) field(dl, "先查", dx.crew_note);
    if (item.arrived_at) {  // on site: when they arrived, not a countdown that no longer applies
      field(dl, "已到达", timeFmt.format(new Date(item.arrived_at)));
    } else {
      field(dl, "到场时限", deadline(t.sla && t.sla.arrive_by));
      if (t.crew_eta) field(dl, "预计到达", timeFmt.format(new Date(t.crew_eta)));
    }
    article.appendChild(dl);

    var error = node("p", "error");
    error.hidden = true;
    error.setAttribute("role", "alert");

    var actions = node("div", "actions");
    var allowed = t.allowed_actions || [];
    STEPS.forEach(function (step) {
      if (allowed.indexOf(step.action) < 0) return;
      var button = node("button", "act" + (step.kind ? " act--" + step.kind : ""), step.label);
      button.type = "button";
      button.setAttribute("data-action", step.action);
      button.addEventListener("click", function () {
        show(error, "");
        if (step.note) openNote(article, actions, error, t.number, step);
        else send(article, error, t.number, step.action, null);
      });
      actions.appendChild(button);
    });
    if (actions.childNodes.length) article.appendChild(actions);
    article.appendChild(error);
    return article;
  }

  function openNote(article, actions, error, number, step) {
    var old = article.querySelector(".note");
    if (old) old.remove();
    actions.hidden = true;
    var box = node("div", "note");
    var id = "note-" + number + "-" + step.action;
    var label = node("label", null, step.note);
    label.htmlFor = id;
    var textarea = node("textarea", "input");
    textarea.id = id;
    textarea.maxLength = 1000;
    textarea.placeholder = step.placeholder;
    var row = node("div", "actions");
    var confirm = node("button", "act" + (step.kind ? " act--" + step.kind : ""), "确认" + step.label);
    confirm.type = "button";
    confirm.setAttribute("data-confirm", step.action);
    var cancel = node("button", "act act--cancel", "取消");
    cancel.type = "button";
    confirm.addEventListener("click", function () {
      var note = textarea.value.trim();
      if (step.required && !note) {
        show(error, "请填写" + step.note.replace(/（.*）/, ""));
        textarea.focus();
        return;
      }
      send(article, error, number, step.action, note || null);
    });
    cancel.addEventListener("click", function () {
      box.remove();
      actions.hidden = false;
      show(error, "");
    });
    row.appendChild(confirm);
    row.appendChild(cancel);
    box.appendChild(label);
    box.appendChild(textarea);
    box.appendChild(row);
    article.insertBefore(box, error);
    textarea.focus();
  }

  function send(article, error, number, action, note) {
    if (busy) return;
    busy = true;
    var buttons = article.querySelectorAll("button");
    Array.prototype.forEach.call(buttons, function (b) { b.disabled = true; });
    api("POST", "/api/tickets/" + encodeURIComponent(number) + "/transitions",
        { action: action, note: note }).then(function (result) {
      busy = false;
      if (result.status === 401) {
        session.signOut(MSG_EXPIRED);
        return;
      }
      if (!result.ok) {
        Array.prototype.forEach.call(buttons, function (b) { b.disabled = false; });
        show(error, message(result, MSG_FAILED));
        return;
      }
      loadTickets();
    });
  }

  // ---------- start ----------

  session.start();
})();
