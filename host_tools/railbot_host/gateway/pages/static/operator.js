// The operator's page: signs in, then follows the rail, the queue, alarms, the event log and the day's figures live.
import { call, el, kwh, makeI18n, stream } from "/static/common.js";

const STRINGS = {
  "zh-CN": {
    title: "railbot 运营", other: "English", signout: "退出", signin: "运营人员登录", signin_go: "登录",
    name: "用户名", password: "密码", need_both: "请输入用户名和密码。", wrong: "用户名或密码错误。",
    rail: "轨道", alarms: "报警", queue: "排队", figures: "今日数据", log: "事件记录", tools: "工具",
    bay: "车位", request: "申请", state: "状态", reset: "复位", home: "回原点",
    no_alarm: "无报警", alarm_rehome: "复位后需重新回原点（位置可能已丢失）。", alarm_fix: "排除原因后按“复位”。",
    robot: "机器人", pos: "位置", lift: "升降", jobs: "任务", carry: "携带单元", homed: "已回原点", not_homed: "未回原点",
    offline: "离线", queue_empty: "无排队", csms: "后台 (CSMS)：{c}，未确认消息 {n}", connected: "已连接", not_connected: "未连接",
    token_for: "车位二维码：车位", token_go: "生成新链接", bad_bay: "车位必须是 1 到 {n} 的整数。",
    token_ok: "车位 {bay} 的新链接（旧二维码已失效）：", cmd_hint: "机器人命令，如 status", cmd_go: "发送",
    cmd_empty: "请输入一条命令。", requests: "申请", wait: "平均等待", energy: "电量", sessions: "充电次数",
    min: "分钟", unit: "单元", carriage: "小车", dock: "停靠", no_site: "轨道数据不可用：{why}",
    q_accepted: "已接受", q_queued: "已排队", q_delivered: "已送达",
    s_Available: "空闲", s_Preparing: "准备中", s_Charging: "充电中", s_SuspendedEV: "已连接",
    s_SuspendedEVSE: "暂停供电", s_Finishing: "结束中", s_Unavailable: "不可用", s_Faulted: "故障",
    u_free: "空闲单元", "u_serving": "服务中单元", "u_in-use": "使用中单元",
  },
  en: {
    title: "railbot operator", other: "中文", signout: "Sign out", signin: "Operator sign-in", signin_go: "Sign in",
    name: "Name", password: "Password", need_both: "Give a name and a password.", wrong: "Wrong name or password.",
    rail: "The rail", alarms: "Alarm", queue: "Queue", figures: "Today's figures", log: "Event log", tools: "Tools",
    bay: "Bay", request: "Request", state: "State", reset: "Reset", home: "Home",
    no_alarm: "No alarm", alarm_rehome: "After the reset the robot must home again (its position may be lost).",
    alarm_fix: "Remove the cause, then press Reset.",
    robot: "Robot", pos: "Position", lift: "Lift", jobs: "Jobs", carry: "Carrying unit", homed: "homed", not_homed: "not homed",
    offline: "offline", queue_empty: "Nobody waits", csms: "Back end (CSMS): {c}, {n} messages not acknowledged",
    connected: "connected", not_connected: "not connected",
    token_for: "QR code for bay", token_go: "New link", bad_bay: "The bay must be a whole number 1..{n}.",
    token_ok: "New link for bay {bay} (the old QR code no longer works):", cmd_hint: "robot command, e.g. status", cmd_go: "Send",
    cmd_empty: "Type a command.", requests: "Requests", wait: "Mean wait", energy: "Energy", sessions: "Sessions",
    min: "min", unit: "unit", carriage: "carriage", dock: "dock", no_site: "No rail data: {why}",
    q_accepted: "accepted", q_queued: "queued", q_delivered: "delivered",
    s_Available: "Available", s_Preparing: "Preparing", s_Charging: "Charging", s_SuspendedEV: "Plugged in",
    s_SuspendedEVSE: "Paused", s_Finishing: "Finishing", s_Unavailable: "Unavailable", s_Faulted: "Fault",
    u_free: "free unit", "u_serving": "unit serving", "u_in-use": "unit in use",
  },
};

const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
const AUTH_KEY = "railbot.operator";
let auth = sessionStorage.getItem(AUTH_KEY);
let site = null, alarmTable = {}, rail = null, figures = null, events = [];
let evStream = null, timers = [];
const i18n = makeI18n(STRINGS, renderAll);
const t = (k, v) => i18n.t(k, v);

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function basic(name, password) {
  const bytes = new TextEncoder().encode(`${name}:${password}`);
  return "Basic " + btoa(String.fromCharCode(...bytes));
}

function say(id, text, good = false) {
  $(id).textContent = text;
  $(id).classList.toggle("good", good);
}

// --- signing in ---
async function signIn(ev) {
  ev.preventDefault();
  const name = $("name").value.trim(), password = $("password").value;
  if (!name || !password) return say("signin-msg", t("need_both"));
  const a = basic(name, password);
  const res = await call("/api/rail", { auth: a });
  if (res.status === 401) return say("signin-msg", t("wrong"));
  if (!res.ok) return say("signin-msg", res.body.error);
  say("signin-msg", "");
  auth = a;
  sessionStorage.setItem(AUTH_KEY, a);
  sessionStorage.setItem(AUTH_KEY + ".name", name);
  $("password").value = "";
  await enter();
}

function signOut() {
  auth = null;
  sessionStorage.removeItem(AUTH_KEY);
  evStream && evStream.stop();
  timers.forEach(clearInterval);
  timers = [];
  $("app").hidden = true;
  $("signout").hidden = true;
  $("who").textContent = "";
  $("signin").hidden = false;
}

async function op(path, opts = {}) {
  const res = await call(path, { ...opts, auth });
  if (res.status === 401) signOut();
  return res;
}

async function enter() {
  const [s, a] = await Promise.all([op("/api/site"), op("/api/alarms")]);
  if (!auth) return;
  site = s.ok ? s.body : null;
  if (!s.ok) say("alarm-msg", t("no_site", { why: s.body.error }));
  if (a.ok) for (const row of a.body) alarmTable[row.code] = row;
  $("signin").hidden = true;
  $("app").hidden = false;
  $("signout").hidden = false;
  $("who").textContent = sessionStorage.getItem(AUTH_KEY + ".name") || "";
  // the latest 200 events, then the stream from the newest of them (a stream from 0 would begin
  // with the oldest)
  const recent = await op("/api/log?limit=200");
  events = recent.ok ? recent.body : [];
  renderLog();
  evStream = stream("/api/events", { auth, after: events.length ? events[0].id : 0, onEvent: (e) => {
    events.unshift(e);
    events.length = Math.min(events.length, 200);
    renderLog();
    if (e.kind === "session") loadFigures();
  } });
  await Promise.all([loadRail(), loadFigures()]);
  timers.push(setInterval(loadRail, 1000), setInterval(loadFigures, 15000));
}

async function loadRail() {
  const res = await op("/api/rail");
  if (res.ok) { rail = res.body; renderRail(); renderAlarm(); renderQueue(); }
}

async function loadFigures() {
  const res = await op("/api/figures?day=today");
  if (res.ok) { figures = res.body; renderFigures(); }
}

// --- the rail to scale: bays of odd numbers above the rail, even below, docks at the ends ---
const W = 1000, RAIL_Y = 75;
function xOf(mm) { return 10 + (mm / site.travel_mm) * (W - 20); }
function portX(port) {
  const m = /^([BD])(\d+)([LR]?)$/.exec(port);
  if (!m) return null;
  if (m[1] === "B") {
    const bay = +m[2], st = site.stations;
    return { x: xOf(st.first_x_mm + Math.floor((bay - 1) / 2) * st.pitch_mm), side: bay % 2 ? "L" : "R" };
  }
  const dock = site.docks.find((d) => d.id === +m[2]);
  return dock ? { x: xOf(dock.x_mm), side: m[3] || "L" } : null;
}

function renderRail() {
  const g = $("rail");
  if (!rail) return;
  const r = rail.robot;
  const line = $("robot-line");
  line.replaceChildren(
    el("span", {}, `${t("robot")}: `, el("b", { id: "robot-state" }, r.online ? r.state : t("offline"))),
    el("span", {}, `${t("pos")}: `, el("b", { id: "robot-x" }, `${(r.x_mm / 1000).toFixed(2)} m`)),
    el("span", {}, `${t("lift")}: `, el("b", {}, `${Math.round(r.z_mm)} mm`)),
    el("span", {}, `${t("jobs")}: `, el("b", {}, String(r.jobs))),
    el("span", {}, `${t("carry")}: `, el("b", {}, r.carry ? String(r.carry) : "–")),
    el("span", {}, el("b", {}, r.homed ? t("homed") : t("not_homed"))));
  if (!site) return;
  const kids = [];
  const st = site.stations;
  const bw = Math.max(6, (st.pitch_mm / site.travel_mm) * (W - 20) * 0.86);
  kids.push(svg("line", { x1: xOf(0), x2: xOf(site.travel_mm), y1: RAIL_Y, y2: RAIL_Y, stroke: "#1d2330", "stroke-width": 4 }));
  for (const d of site.docks) {
    const x = xOf(d.x_mm);
    kids.push(svg("rect", { x: x - 6, y: RAIL_Y - 26, width: 12, height: 52, fill: "#eef0f4", stroke: "#8a93a6", rx: 2 }));
  }
  for (let bay = 1; bay <= site.bays; bay++) {
    const x = xOf(st.first_x_mm + Math.floor((bay - 1) / 2) * st.pitch_mm);
    const left = bay % 2 === 1;
    const status = rail.connectors[String(bay)] || "Available";
    const y = left ? 4 : RAIL_Y + 26;
    const grp = svg("g", { class: "bay", "data-bay": bay, "data-status": status });
    grp.append(svg("rect", { x: x - bw / 2, y, width: bw, height: 42, rx: 3, class: `st-${status}` }),
      svg("text", { x, y: y + (left ? 14 : 38), "text-anchor": "middle" }, String(bay)),
      svg("title", {}, `${t("bay")} ${bay}: ${t("s_" + status)}`));
    kids.push(grp);
  }
  // the carriage and its lift (drawn 0..150 mm of lift as 0..20 px)
  const cx = xOf(r.x_mm);
  const lift = Math.min(20, (Math.max(0, r.z_mm) / 150) * 20);
  const car = svg("g", { id: "carriage", "data-x-mm": r.x_mm });
  car.append(svg("rect", { x: cx - 9, y: RAIL_Y - 7, width: 18, height: 14, rx: 3, fill: r.alarm ? "#c62828" : "#0b6bcb" }),
    svg("rect", { id: "lift", x: cx - 2, y: RAIL_Y + 7, width: 4, height: 2 + lift, fill: "#1d2330" }));
  for (const u of rail.units) {
    let pos = u.port === "carried" ? { x: cx, side: "C" } : portX(u.port);
    if (!pos) continue;
    const y = pos.side === "C" ? RAIL_Y + 12 + lift : pos.side === "L" ? RAIL_Y - 17 : RAIL_Y + 17;
    const ug = svg("g", { class: "unit", "data-unit": u.unit, "data-port": u.port });
    ug.append(svg("circle", { cx: pos.x, cy: y, r: 7, class: `unit-${u.state}`, "stroke-width": 1.5 }),
      svg("text", { x: pos.x, y: y + 3.5, "text-anchor": "middle", style: "fill:#1d2330;font-weight:700" }, String(u.unit)),
      svg("title", {}, `${t("unit")} ${u.unit}: ${u.port}, ${u.state}`));
    kids.push(ug);
  }
  kids.push(car);
  g.replaceChildren(...kids);
  const legend = ["Available", "Preparing", "Charging", "SuspendedEV", "Finishing", "Unavailable", "Faulted"]
    .map((s) => el("span", {}, el("i", { class: `st-${s}`, style: `background:var(--x)` }), t("s_" + s)));
  $("legend").replaceChildren(...legend, ...["free", "serving", "in-use"].map((s) =>
    el("span", {}, el("i", { class: `unit-${s}`, style: "border-radius:50%;border:1.5px solid" }), t("u_" + s))));
  for (const i of $("legend").querySelectorAll("i")) i.style.background = getComputedStyle(i).fill;
}

function renderAlarm() {
  const r = rail.robot;
  const box = $("alarm");
  box.classList.toggle("on", !!r.alarm);
  box.dataset.code = r.alarm;
  if (!r.alarm) {
    box.replaceChildren(el("span", {}, t("no_alarm")));
  } else {
    const a = alarmTable[r.alarm] || { name: "UNKNOWN", meaning: "", needs_homing: true };
    box.replaceChildren(el("div", { class: "name" }, `${r.alarm} ${a.name}`), el("div", {}, a.meaning),
      el("div", { class: "small" }, a.needs_homing ? t("alarm_rehome") : t("alarm_fix")));
  }
  $("reset").hidden = !r.alarm;
  $("home").hidden = !!r.alarm || r.homed || !r.online;
}

function renderQueue() {
  const rows = rail.queue.map((q, i) => el("tr", { "data-bay": q.bay }, el("td", {}, String(i + 1)),
    el("td", {}, String(q.bay)), el("td", {}, String(q.request)), el("td", {}, t("q_" + q.state))));
  $("queue").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colSpan: 4 }, t("queue_empty")))]));
  const o = rail.ocpp;
  $("csms").textContent = t("csms", { c: o.connected && o.booted ? t("connected") : t("not_connected"), n: o.unacknowledged });
}

function renderLog() {
  $("log").replaceChildren(...events.slice(0, 200).map((e) => el("li", { "data-kind": e.kind },
    el("span", { class: "k" }, e.kind), `${e.bay ? `[${e.bay}] ` : ""}${e.text}`)));
}

// --- the day's figures: requests per hour (bars) with their mean wait (line), energy per hour (bars) ---
function renderFigures() {
  if (!figures) return;
  const h = figures.hours, T = figures.totals;
  $("totals").replaceChildren(
    el("div", { id: "tot-requests" }, t("requests"), el("b", {}, String(T.requests))),
    el("div", {}, t("wait"), el("b", {}, T.wait_s_mean === null ? "–" : `${(T.wait_s_mean / 60).toFixed(1)} ${t("min")}`)),
    el("div", {}, t("sessions"), el("b", {}, String(T.sessions))),
    el("div", { id: "tot-energy" }, t("energy"), el("b", {}, `${kwh(T.energy_wh)} kWh`)));
  const left = 40, right = 960, top1 = 14, h1 = 90, top2 = 150, h2 = 80;
  const bw = (right - left) / h.length;
  const maxReq = Math.max(1, ...h.map((b) => b.requests));
  const maxWait = Math.max(60, ...h.map((b) => b.wait_s_mean || 0));
  const maxWh = Math.max(1000, ...h.map((b) => b.energy_wh));
  const kids = [
    svg("text", { x: left, y: 10 }, `${t("requests")} ▮ · ${t("wait")} (${t("min")}) —`),
    svg("text", { x: left, y: top2 - 4 }, `${t("energy")} (kWh)`),
    svg("text", { x: left - 4, y: top1 + 8, "text-anchor": "end" }, String(maxReq)),
    svg("text", { x: right + 4, y: top1 + 8 }, (maxWait / 60).toFixed(0)),
    svg("text", { x: left - 4, y: top2 + 8, "text-anchor": "end" }, kwh(maxWh)),
  ];
  let path = "";
  h.forEach((b, i) => {
    const x = left + i * bw;
    const rh = (b.requests / maxReq) * h1;
    kids.push(svg("rect", { x: x + 2, y: top1 + h1 - rh, width: bw - 4, height: rh, class: "bar-req", "data-hour": b.start, "data-requests": b.requests }));
    const eh = (b.energy_wh / maxWh) * h2;
    kids.push(svg("rect", { x: x + 2, y: top2 + h2 - eh, width: bw - 4, height: eh, class: "bar-wh", "data-wh": b.energy_wh }));
    if (b.wait_s_mean !== null) {
      const y = top1 + h1 - (b.wait_s_mean / maxWait) * h1;
      path += `${path ? "L" : "M"}${x + bw / 2},${y}`;
    }
    if (i % 3 === 0) kids.push(svg("text", { x: x + bw / 2, y: 252, "text-anchor": "middle" }, b.start.slice(11, 16)));
  });
  kids.push(svg("line", { x1: left, x2: right, y1: top1 + h1, y2: top1 + h1, stroke: "#d7dbe3" }),
    svg("line", { x1: left, x2: right, y1: top2 + h2, y2: top2 + h2, stroke: "#d7dbe3" }));
  if (path) kids.push(svg("path", { d: path, class: "wait-line" }));
  $("chart").replaceChildren(...kids);
}

function renderAll() {
  $("lang").textContent = t("other");
  if (rail) { renderRail(); renderAlarm(); renderQueue(); }
  renderFigures();
}

// --- the operator's actions ---
async function command(line, msgId) {
  const res = await op("/api/robot/command", { method: "POST", body: { line } });
  if (!res.ok) return say(msgId, res.body.error);
  say(msgId, `${res.body.line} → ${res.body.reply}`, res.body.reply.startsWith("ok"));
  await loadRail();
}

$("reset").addEventListener("click", () => command("reset", "alarm-msg"));
$("home").addEventListener("click", () => command("home", "alarm-msg"));
$("token-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const text = $("token-bay").value.trim();
  const n = site ? site.bays : 44;
  if (!/^\d+$/.test(text) || +text < 1 || +text > n) return say("token-msg", t("bad_bay", { n }));
  const res = await op(`/api/bays/${text}/token`, { method: "POST" });
  if (!res.ok) return say("token-msg", res.body.error);
  const link = `${location.origin}/bay/${res.body.token}`;
  $("token-msg").replaceChildren(t("token_ok", { bay: res.body.bay }), " ", el("a", { href: link, id: "token-link" }, link));
  $("token-msg").classList.add("good");
});
$("cmd-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const line = $("cmd").value.trim();
  if (!line) return say("cmd-msg", t("cmd_empty"));
  await command(line, "cmd-msg");
});
$("signin").addEventListener("submit", signIn);
$("signout").addEventListener("click", signOut);
$("lang").addEventListener("click", () => i18n.set(i18n.lang === "en" ? "zh-CN" : "en"));
i18n.apply();
$("lang").textContent = t("other");
if (auth) enter(); else $("signin").hidden = false;
window.railbotOperator = { get rail() { return rail; }, get figures() { return figures; }, loadRail, loadFigures };
