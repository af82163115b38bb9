/* 智电 · 抢修调度指挥 (/dispatch) — the supervisor's dispatch screen: the open work tickets with their crew and
 * arrival deadline, the crews (on shift, load, skills, coverage, where they are), a map of both; reassign a ticket
 * with a reason, take a crew out of dispatch or bring it back / put it on call, re-plan and see what moved.
 *
 * GET  /api/dispatch/tickets, /api/dispatch/crews?include_inactive=true
 * POST /api/tickets/{number}/reassign {crew_id, reason}
 * POST /api/dispatch/crews/{id}/unavailable {reason}, /api/dispatch/crews/{id}/available {reason, hours?}
 * POST /api/dispatch/replan {reason}   → {moved, moves: [{number, from_crew, to_crew, …}], unplaced} */
(function () {
  "use strict";

  var api = ZhidianStaff.api, show = ZhidianStaff.show;
  var $ = function (id) { return document.getElementById(id); };
  var ROLES = ["supervisor", "admin"];
  var REFRESH_MS = 60000;
  var REASSIGNABLE = ["新建", "退单", "已派单", "已接单"];  // as api/flows/dispatching.reassign
  var STATUS_ORDER = { "新建": 0, "退单": 1, "已派单": 2, "已接单": 3, "已到达": 4, "挂起": 5 };
  var MSG_EXPIRED = "登录已过期，请重新登录";
  var MSG_FAILED = "操作失败，请稍后重试";

  var els = {
    view: $("dp-view"), login: $("login-view"), error: $("dp-error"), refused: $("dp-refused"), board: $("dp-board"),
    district: $("dp-district"), sort: $("dp-sort"), overdueOnly: $("dp-overdue-only"), refresh: $("dp-refresh"),
    updated: $("dp-updated"), replanForm: $("dp-replan-form"), replanReason: $("dp-replan-reason"),
    replan: $("dp-replan"), replanError: $("dp-replan-error"),
    result: $("dp-result"), resultTitle: $("dp-result-title"), resultSummary: $("dp-result-summary"),
    moves: $("dp-moves"), resultClose: $("dp-result-close"),
    rows: $("dp-rows"), empty: $("dp-empty"), ticketCount: $("dp-ticket-count"),
    crews: $("dp-crews"), crewCount: $("dp-crew-count"), map: $("dp-map"),
    reassign: $("dp-reassign"), reassignForm: $("dp-reassign-form"), reassignTicket: $("dp-reassign-ticket"),
    reassignCrew: $("dp-reassign-crew"), reassignReason: $("dp-reassign-reason"),
    reassignError: $("dp-reassign-error"), reassignSubmit: $("dp-reassign-submit"),
    reassignCancel: $("dp-reassign-cancel"),
    crewDialog: $("dp-crew-action"), crewForm: $("dp-crew-form"), crewTitle: $("dp-crew-action-title"),
    crewHint: $("dp-crew-action-hint"), hoursField: $("dp-hours-field"), hours: $("dp-hours"),
    crewReason: $("dp-crew-reason"), crewError: $("dp-crew-error"), crewSubmit: $("dp-crew-submit"),
    crewCancel: $("dp-crew-cancel")
  };
  var state = { user: null, tickets: [], crews: [], timer: null, loading: null, ticket: null, action: null };
  var chart = null;
  var timeFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", month: "2-digit", day: "2-digit",
                                                    hour: "2-digit", minute: "2-digit", hour12: false });
  var clockFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit",
                                                     second: "2-digit", hour12: false });

  function fmt(ts) { return ts ? timeFmt.format(new Date(ts)) : ""; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  /* ECharts tooltips are HTML: what they show is escaped. */
  function esc(text) {
    return String(text === null || text === undefined ? "" : text).replace(/[&<>"']/g, function (ch) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[ch];
    });
  }

  function message(result, fallback) {
    var text = ZhidianStaff.message(result, fallback);
    return /[\u3400-\u9fff]/.test(String(text)) ? text : fallback;
  }

  /* 401 → sign in again; 403 → the no-permission notice; else the API's message in `into` (or the banner). */
  function failed(result, into) {
    if (result.ok) return false;
    if (result.status === 401) session.signOut(MSG_EXPIRED);
    else if (result.status === 403) refuse();
    else show(into || els.error, message(result, MSG_FAILED));
    return true;
  }

  function refuse() {
    stopTimer();
    closeDialogs();
    els.board.hidden = true;
    els.refused.hidden = false;
  }

  function stopTimer() {
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
  }

  function crewById(id) {
    for (var i = 0; i < state.crews.length; i++) if (state.crews[i].id === id) return state.crews[i];
    return null;
  }

  // ---------- loading ----------

  function load() {
    stopTimer();
    if (state.loading) return state.loading;
    state.loading = Promise.all([api("GET", "/api/dispatch/tickets"),
                                 api("GET", "/api/dispatch/crews?include_inactive=true")]).then(function (results) {
      state.loading = null;
      if (failed(results[0]) || failed(results[1])) return;
      show(els.error, "");
      state.tickets = results[0].data || [];
      state.crews = results[1].data || [];
      render();
      els.updated.textContent = "更新于 " + clockFmt.format(new Date());
      if (!els.board.hidden) state.timer = setTimeout(refreshLater, REFRESH_MS);
    });
    return state.loading;
  }

  /* The periodic refresh waits while a dialog is open (its choices stay as the supervisor saw them). */
  function refreshLater() {
    if (dialogOpen()) state.timer = setTimeout(refreshLater, 5000);
    else load();
  }

  function render() {
    fillDistricts();
    renderTickets();
    renderCrews();
    renderMap();
  }

  function fillDistricts() {
    var names = {};
    state.crews.forEach(function (c) { c.districts.forEach(function (d) { names[d] = true; }); });
    state.tickets.forEach(function (t) { if (t.district) names[t.district] = true; });
    var current = els.district.value;
    var have = Array.prototype.map.call(els.district.options, function (o) { return o.value; }).slice(1);
    var wanted = Object.keys(names).sort();
    if (have.join() === wanted.join()) return;
    els.district.length = 1;
    wanted.forEach(function (name) { els.district.appendChild(new Option(name, name)); });
    els.district.value = wanted.indexOf(current) >= 0 ? current : "";
  }

  function visibleTickets() {
    var district = els.district.value, overdueOnly = els.overdueOnly.checked, key = els.sort.value;
    var list = state.tickets.filter(function (t) {
      return (!district || t.district === district) && (!overdueOnly || t.overdue);
    });
    function deadline(a, b) { return (b.overdue - a.overdue) || (new Date(a.arrive_by) - new Date(b.arrive_by)); }
    var compare = {
      deadline: deadline,
      crew: function (a, b) { return (a.crew || "～").localeCompare(b.crew || "～", "zh-CN") || deadline(a, b); },
      district: function (a, b) { return (a.district || "").localeCompare(b.district || "", "zh-CN") || deadline(a, b); },
      status: function (a, b) { return (STATUS_ORDER[a.status] - STATUS_ORDER[b.status]) || deadline(a, b); }
    }[key] || deadline;
    return list.sort(compare);
  }

  // ---------- tickets ----------

  function deadlineText(t) {
    if (t.arrived_at) return { main: "已到场 " + fmt(t.arrived_at), note: "" };
    if (t.status === "挂起") return { main: fmt(t.arrive_by), note: "挂起中，时限暂停" };
    var minutes = Math.round((new Date(t.arrive_by) - Date.now()) / 60000);
    if (t.overdue) return { main: fmt(t.arrive_by), note: "已超时 " + Math.max(1, -minutes) + " 分钟" };
    return { main: fmt(t.arrive_by), note: "剩余 " + Math.max(0, minutes) + " 分钟" };
  }

  function renderTickets() {
    var list = visibleTickets();
    els.rows.textContent = "";
    var overdue = list.filter(function (t) { return t.overdue; }).length;
    els.ticketCount.textContent = "（" + list.length + " 张" + (overdue ? "，超时 " + overdue + " 张" : "") + "）";
    els.empty.hidden = list.length > 0;
    list.forEach(function (t) {
      var tr = el("tr");
      tr.dataset.number = t.number;
      if (t.overdue) tr.classList.add("is-overdue");
      if (!t.crew_id) tr.classList.add("is-waiting");

      var num = el("td", "dp-num");
      num.appendChild(el("strong", null, t.number));
      if (t.escalation_level > 0) num.appendChild(el("span", "dp-tag dp-tag--warn", "已升级" + t.escalation_level + "级"));
      tr.appendChild(num);

      var type = el("td");
      type.appendChild(el("span", null, t.type));
      type.appendChild(el("small", "dp-sub", "需" + t.skill));
      tr.appendChild(type);

      var where = el("td", "dp-where");
      where.appendChild(el("strong", null, t.district || "区县未知"));
      var address = el("small", "dp-sub dp-address", t.address_text + (t.located ? "" : "（无坐标，按区县位置）"));
      address.title = t.address_text;
      where.appendChild(address);
      tr.appendChild(where);

      var status = el("td");
      status.appendChild(el("span", "dp-status dp-status--" + (STATUS_ORDER[t.status] !== undefined ? STATUS_ORDER[t.status] : 9),
                            t.status));
      tr.appendChild(status);

      var crew = el("td", "dp-crew-cell");
      if (t.crew_id) {
        crew.appendChild(el("span", null, t.crew));
        if (t.crew_eta && !t.arrived_at) crew.appendChild(el("small", "dp-sub", "预计 " + fmt(t.crew_eta) + " 到达"));
      } else {
        crew.appendChild(el("span", "dp-unassigned", "待派"));
      }
      tr.appendChild(crew);

      var due = deadlineText(t);
      var deadline = el("td", "dp-deadline");
      deadline.appendChild(el("span", null, due.main));
      if (due.note) deadline.appendChild(el("small", t.overdue ? "dp-late" : "dp-sub", due.note));
      tr.appendChild(deadline);

      var act = el("td", "dp-act");
      if (REASSIGNABLE.indexOf(t.status) >= 0) {
        var button = el("button", "ghost", t.crew_id ? "改派" : "派单");
        button.type = "button";
        button.addEventListener("click", function () { openReassign(t); });
        act.appendChild(button);
      }
      tr.appendChild(act);
      els.rows.appendChild(tr);
    });
  }

  // ---------- crews ----------

  function crewState(c) {
    if (!c.active) return { key: "out", text: "暂停派单" };
    return c.on_shift ? { key: "on", text: "在班" } : { key: "off", text: "不在班" };
  }

  function shiftText(c) {
    if (c.on_shift) return "在班至 " + fmt(c.shift_ends_at);
    return c.next_shift_starts_at ? "下一班 " + fmt(c.next_shift_starts_at) : "暂无排班";
  }

  function renderCrews() {
    var district = els.district.value;
    var order = { on: 0, off: 1, out: 2 };  // who can take work now first
    var list = state.crews.filter(function (c) { return !district || c.districts.indexOf(district) >= 0; })
      .sort(function (a, b) { return (order[crewState(a).key] - order[crewState(b).key]) || a.id.localeCompare(b.id); });
    var working = list.filter(function (c) { return c.active && c.on_shift; }).length;
    els.crewCount.textContent = "（" + list.length + " 个，在班可派 " + working + " 个）";
    els.crews.textContent = "";
    list.forEach(function (c) {
      var s = crewState(c);
      var li = el("li", "dp-crew dp-crew--" + s.key);
      li.dataset.crew = c.id;

      var head = el("div", "dp-crew-head");
      var name = el("div", "dp-crew-name");
      name.appendChild(el("strong", null, c.name));
      name.appendChild(el("span", "dp-crew-id", c.id));
      head.appendChild(name);
      head.appendChild(el("span", "dp-badge dp-badge--" + s.key, s.text));
      li.appendChild(head);

      var meta = el("div", "dp-crew-meta");
      meta.appendChild(el("span", "dp-shift", shiftText(c)));
      var load = el("span", "dp-load" + (c.load >= c.capacity ? " is-full" : ""), "工单 " + c.load + " / " + c.capacity);
      load.title = "当前持有工单 / 可同时处理上限";
      meta.appendChild(load);
      li.appendChild(meta);

      var bar = el("div", "dp-bar-track");
      var fill = el("div", "dp-bar-fill");
      fill.style.width = Math.min(100, Math.round(100 * c.load / Math.max(1, c.capacity))) + "%";
      bar.appendChild(fill);
      li.appendChild(bar);

      var skills = el("div", "dp-chips");
      c.skills.forEach(function (skill) { skills.appendChild(el("span", "dp-chip", skill)); });
      skills.appendChild(el("span", "dp-crew-line", "覆盖：" + c.districts.join("、")));
      li.appendChild(skills);

      var held = state.tickets.filter(function (t) { return t.crew_id === c.id; });
      if (held.length) {
        var tickets = el("ul", "dp-crew-tickets");
        tickets.setAttribute("aria-label", c.name + "的工单");
        held.forEach(function (t) {
          var item = el("li", t.overdue ? "is-overdue" : "", t.number + " · " + t.status);
          item.dataset.number = t.number;
          tickets.appendChild(item);
        });
        li.appendChild(tickets);
      }

      var foot = el("div", "dp-crew-foot");
      foot.appendChild(el("span", "dp-crew-line", "位置 " + c.lat.toFixed(4) + "°N，" + c.lon.toFixed(4) + "°E"));
      var actions = el("div", "dp-crew-actions");
      if (c.active) actions.appendChild(actionButton("暂停派单", "off", c));
      else actions.appendChild(actionButton("恢复派单", "resume", c));
      if (!c.active || !c.on_shift) actions.appendChild(actionButton("值班待命", "oncall", c));
      foot.appendChild(actions);
      li.appendChild(foot);
      els.crews.appendChild(li);
    });
  }

  function actionButton(label, kind, crew) {
    var button = el("button", kind === "off" ? "ghost dp-danger" : "ghost", label);
    button.type = "button";
    button.addEventListener("click", function () { openCrewAction(kind, crew); });
    return button;
  }

  // ---------- map (longitude × latitude; no base map, nothing fetched) ----------

  function renderMap() {
    if (!window.echarts) return;
    var district = els.district.value;
    var tickets = state.tickets.filter(function (t) { return !district || t.district === district; });
    var crews = state.crews.filter(function (c) { return !district || c.districts.indexOf(district) >= 0; });
    var points = tickets.map(function (t) { return [t.lon, t.lat]; }).concat(crews.map(function (c) { return [c.lon, c.lat]; }));
    if (!points.length) { if (chart) chart.clear(); return; }
    var lons = points.map(function (p) { return p[0]; }), lats = points.map(function (p) { return p[1]; });
    var pad = 0.03;
    var byId = {};
    crews.forEach(function (c) { byId[c.id] = c; });
    var ticketColor = function (t) { return t.overdue ? "#c7392f" : (t.crew_id ? "#00736a" : "#d9771c"); };
    var crewColor = { on: "#005950", off: "#86939a", out: "#c7392f" };
    chart = chart || echarts.init(els.map, null, { renderer: "canvas" });
    chart.setOption({
      animation: false,
      grid: { left: 52, right: 14, top: 30, bottom: 34 },
      legend: { data: ["工单", "班组"], top: 0, right: 0, textStyle: { fontSize: 12 } },
      tooltip: { trigger: "item", formatter: function (p) { return p.data && p.data.tip ? p.data.tip : ""; } },
      xAxis: { type: "value", name: "经度", nameGap: 22, nameLocation: "middle", scale: true,
               min: Math.min.apply(null, lons) - pad, max: Math.max.apply(null, lons) + pad,
               axisLabel: { formatter: function (v) { return v.toFixed(2); } }, splitLine: { lineStyle: { color: "#eef2f1" } } },
      yAxis: { type: "value", name: "纬度", scale: true,
               min: Math.min.apply(null, lats) - pad, max: Math.max.apply(null, lats) + pad,
               axisLabel: { formatter: function (v) { return v.toFixed(2); } }, splitLine: { lineStyle: { color: "#eef2f1" } } },
      series: [
        { name: "派单", type: "lines", coordinateSystem: "cartesian2d", silent: true, z: 1,
          lineStyle: { color: "#00736a", opacity: 0.35, width: 1 },
          data: tickets.filter(function (t) { return byId[t.crew_id]; }).map(function (t) {
            return { coords: [[t.lon, t.lat], [byId[t.crew_id].lon, byId[t.crew_id].lat]] };
          }) },
        { name: "工单", type: "scatter", symbolSize: 10, z: 3, color: "#00736a",
          data: tickets.map(function (t) {
            return { value: [t.lon, t.lat], itemStyle: { color: ticketColor(t) },
                     tip: esc(t.number + " " + t.type) + "<br>" + esc((t.district || "") + " · " + t.status) +
                          "<br>" + esc((t.crew || "待派") + (t.overdue ? " · 已超时" : "")) };
          }) },
        { name: "班组", type: "scatter", symbol: "triangle", symbolSize: 14, z: 4, color: "#005950",
          data: crews.map(function (c) {
            var s = crewState(c);
            return { value: [c.lon, c.lat], itemStyle: { color: crewColor[s.key] },
                     tip: esc(c.name + "（" + s.text + "）") + "<br>工单 " + c.load + " / " + c.capacity };
          }) }
      ]
    }, true);
  }

  // ---------- the result panel ----------

  function showResult(title, summary, moves, unplaced) {
    els.resultTitle.textContent = title;
    els.resultSummary.textContent = summary;
    els.moves.textContent = "";
    (moves || []).forEach(function (m) {
      var li = el("li");
      li.dataset.number = m.number;
      li.appendChild(el("strong", null, m.number));
      li.appendChild(el("span", "dp-sub", " " + m.type + (m.district ? " · " + m.district : "") + "："));
      li.appendChild(el("span", "dp-from", m.from_crew || "待派"));
      li.appendChild(el("span", "dp-arrow", " → "));
      li.appendChild(el("span", "dp-to", m.to_crew));
      els.moves.appendChild(li);
    });
    (unplaced || []).forEach(function (number) {
      var li = el("li", "is-unplaced");
      li.dataset.number = number;
      li.appendChild(el("strong", null, number));
      li.appendChild(el("span", null, "：暂无其他可用班组，已升级，请人工处理"));
      els.moves.appendChild(li);
    });
    els.result.hidden = false;
  }

  function movedSummary(data, nothing) {
    var parts = [];
    if (data.moved) parts.push("共 " + data.moved + " 张工单改派");
    if (data.unplaced && data.unplaced.length) parts.push(data.unplaced.length + " 张暂无班组可接，已升级");
    return parts.length ? parts.join("；") + "。" : nothing;
  }

  // ---------- reassign ----------

  function eligible(c, t) {
    return c.active && c.skills.indexOf(t.skill) >= 0 && (!t.district || c.districts.indexOf(t.district) >= 0);
  }

  function crewLabel(c) {
    var notes = [crewState(c).text, "工单 " + c.load + "/" + c.capacity];
    if (c.load >= c.capacity) notes.push("已满");
    return c.name + "（" + c.id + "）· " + notes.join(" · ");
  }

  function openReassign(t) {
    state.ticket = t;
    els.reassignTicket.textContent = t.number + " · " + t.type + " · " + (t.district || "") + " · 现由" +
      (t.crew || "（待派）") + "处理 · 需" + t.skill;
    els.reassignCrew.textContent = "";
    var others = state.crews.filter(function (c) { return c.id !== t.crew_id; });
    var rank = function (a, b) {
      return (b.on_shift - a.on_shift) || (a.load / a.capacity - b.load / b.capacity) || a.id.localeCompare(b.id);
    };
    var good = others.filter(function (c) { return eligible(c, t); }).sort(rank);
    var rest = others.filter(function (c) { return !eligible(c, t); }).sort(rank);
    [["可派班组（具备" + t.skill + "技能、覆盖" + (t.district || "该区县") + "）", good], ["其他班组", rest]]
      .forEach(function (group) {
        if (!group[1].length) return;
        var optgroup = document.createElement("optgroup");
        optgroup.label = group[0];
        group[1].forEach(function (c) {
          var option = new Option(crewLabel(c), c.id);
          option.disabled = !c.active;  // the API only gives tickets to crews in dispatch
          optgroup.appendChild(option);
        });
        els.reassignCrew.appendChild(optgroup);
      });
    var first = Array.prototype.find.call(els.reassignCrew.options, function (o) { return !o.disabled; });
    if (first) els.reassignCrew.value = first.value;
    els.reassignReason.value = "";
    show(els.reassignError, "");
    els.reassignSubmit.disabled = false;
    els.reassign.showModal();
    els.reassignReason.focus();
  }

  els.reassignForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var t = state.ticket, crewId = els.reassignCrew.value, reason = els.reassignReason.value.trim();
    if (!t) return;
    if (!crewId) { show(els.reassignError, "请选择改派的班组"); return; }
    if (!reason) { show(els.reassignError, "请填写改派原因"); els.reassignReason.focus(); return; }
    els.reassignSubmit.disabled = true;
    show(els.reassignError, "");
    api("POST", "/api/tickets/" + encodeURIComponent(t.number) + "/reassign", { crew_id: crewId, reason: reason })
      .then(function (result) {
        els.reassignSubmit.disabled = false;
        if (failed(result, els.reassignError)) return;
        els.reassign.close();
        var to = crewById(crewId);
        showResult("改派完成", "工单 " + t.number + " 已改派，原因：" + reason,
                   [{ number: t.number, type: t.type, district: t.district, from_crew: t.crew,
                      to_crew: (result.data && result.data.crew && result.data.crew.name) || (to && to.name) || crewId }]);
        load();
      });
  });
  els.reassignCancel.addEventListener("click", function () { els.reassign.close(); });

  // ---------- crew actions ----------

  var ACTIONS = {
    off: { title: "暂停派单", submit: "确认暂停",
           hint: function () { return "暂停后该班组不再接新工单；尚未到场的工单立即改派给其他班组，已到场的工单保留。"; } },
    resume: { title: "恢复派单", submit: "确认恢复",
              hint: function (c) {
                return "恢复后按排班接单（" + shiftText(c) + "）；待派工单将立即重新分配。";
              } },
    oncall: { title: "值班待命", submit: "确认待命",
              hint: function () { return "从现在起加排待命班次，期间可接新工单；待派工单将立即重新分配。"; } }
  };

  function openCrewAction(kind, crew) {
    var action = ACTIONS[kind];
    state.action = { kind: kind, crew: crew };
    els.crewTitle.textContent = action.title + "：" + crew.name;
    els.crewHint.textContent = action.hint(crew);
    els.hoursField.hidden = kind !== "oncall";
    els.hours.value = "4";
    els.crewReason.value = "";
    els.crewSubmit.textContent = action.submit;
    els.crewSubmit.disabled = false;
    show(els.crewError, "");
    els.crewDialog.showModal();
    els.crewReason.focus();
  }

  els.crewForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var a = state.action, reason = els.crewReason.value.trim();
    if (!a) return;
    if (!reason) { show(els.crewError, "请填写原因"); els.crewReason.focus(); return; }
    var body = { reason: reason }, path = "/api/dispatch/crews/" + encodeURIComponent(a.crew.id);
    if (a.kind === "off") path += "/unavailable";
    else path += "/available";
    if (a.kind === "oncall") {
      var hours = Number(els.hours.value);
      if (!(hours >= 1 && hours <= 24 && Math.floor(hours) === hours)) {
        show(els.crewError, "待命时长应为1到24之间的整数小时");
        return;
      }
      body.hours = hours;
    }
    els.crewSubmit.disabled = true;
    show(els.crewError, "");
    api("POST", path, body).then(function (result) {
      els.crewSubmit.disabled = false;
      if (failed(result, els.crewError)) return;
      els.crewDialog.close();
      var title = ACTIONS[a.kind].title + "：" + a.crew.name + (a.kind === "oncall" ? "（" + body.hours + "小时）" : "");
      var nothing = a.kind === "off" ? "该班组没有需要改派的工单。" : "目前没有待派工单需要分配。";
      showResult(title, "原因：" + reason + "。" + movedSummary(result.data, nothing), result.data.moves,
                 result.data.unplaced);
      load();
    });
  });
  els.crewCancel.addEventListener("click", function () { els.crewDialog.close(); });

  // ---------- re-plan ----------

  els.replanForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var reason = els.replanReason.value.trim();
    if (!reason) { show(els.replanError, "请填写重新规划的原因"); els.replanReason.focus(); return; }
    show(els.replanError, "");
    els.replan.disabled = true;
    els.replan.textContent = "规划中…";
    api("POST", "/api/dispatch/replan", { reason: reason }).then(function (result) {
      els.replan.disabled = false;
      els.replan.textContent = "重新规划";
      if (failed(result, els.replanError)) return;
      els.replanReason.value = "";
      showResult("重新规划完成", "原因：" + reason + "。" +
                 movedSummary(result.data, "当前派单已是最优，没有工单需要改派。已接单、已到场的工单保持不变。"),
                 result.data.moves, result.data.unplaced);
      load();
    });
  });

  // ---------- the page ----------

  function dialogOpen() { return els.reassign.open || els.crewDialog.open; }

  function closeDialogs() {
    if (els.reassign.open) els.reassign.close();
    if (els.crewDialog.open) els.crewDialog.close();
  }

  function start(user) {
    state.user = user;
    els.login.hidden = true;
    els.view.hidden = false;
    show(els.error, "");
    if (!user || ROLES.indexOf(user.role) < 0) { refuse(); return; }
    els.refused.hidden = true;
    els.board.hidden = false;
    load();
  }

  function stop() {
    stopTimer();
    closeDialogs();
    state.user = null;
    els.result.hidden = true;
    els.view.hidden = true;
    els.login.hidden = false;
  }

  [els.district, els.sort, els.overdueOnly].forEach(function (control) {
    control.addEventListener("change", function () { renderTickets(); renderCrews(); renderMap(); });
  });
  els.refresh.addEventListener("click", load);
  els.resultClose.addEventListener("click", function () { els.result.hidden = true; });
  window.addEventListener("resize", function () { if (chart) chart.resize(); });

  var session = ZhidianStaff.signIn({
    form: $("login-form"), username: $("username"), password: $("password"), error: $("login-error"),
    submit: $("login-submit"), logout: $("logout"), who: $("who"), onSignedIn: start, onSignedOut: stop
  });
  session.start();
})();
