// The owner's page: ask for a charge at this bay, see the place in the queue and when the unit comes, plug in, the energy, done.
import { call, kwh, makeI18n } from "/static/common.js";

const STRINGS = {
  "zh-CN": {
    title: "车位 {bay} · 充电", other: "English", energy: "已充电量",
    ask: "申请充电", cancel: "取消申请",
    idle: "可以申请充电", idle_d: "充电机器人会把充电单元送到您的车位上方。",
    queued: "排队中：第 {n} 位", working: "机器人正在送充电单元",
    eta: "预计约 {min} 分钟后到达", eta_now: "即将到达",
    here: "充电单元已到：请插枪", here_d: "从车位上方的单元 {unit} 拉下充电枪，插入车辆。",
    charging: "正在充电", connected: "已插枪，车辆暂未充电",
    finishing: "充电结束", finishing_d: "请把充电枪放回枪座。",
    done: "完成", done_d: "本次充电 {kwh} kWh。谢谢！",
    cancelled: "申请已取消", timed_out: "未在规定时间内插枪，充电单元已收回",
    unavailable: "此车位暂不可用", faulted: "充电单元报告故障，请联系停车场工作人员",
    bad_token: "此二维码不对应任何车位", bad_token_d: "请重新扫描车位立柱上的二维码。",
    starting: "系统正在启动，请稍候…", offline: "连接中断，正在重新连接…",
    refused: "未能完成：{why}", loading: "正在加载…",
    s_Available: "空闲", s_Preparing: "准备中", s_Charging: "充电中", s_SuspendedEV: "已连接",
    s_SuspendedEVSE: "暂停供电", s_Finishing: "结束中", s_Unavailable: "不可用", s_Faulted: "故障",
  },
  en: {
    title: "Bay {bay} · charging", other: "中文", energy: "Energy so far",
    ask: "Ask for a charge", cancel: "Cancel the request",
    idle: "You can ask for a charge", idle_d: "The robot brings a charging unit to the port above your bay.",
    queued: "In the queue: number {n}", working: "The robot is bringing your unit",
    eta: "Arrives in about {min} min", eta_now: "Arriving now",
    here: "Your unit is here: plug in", here_d: "Pull the gun down from unit {unit} above your bay and plug it into the car.",
    charging: "Charging", connected: "Plugged in; the car is not drawing power",
    finishing: "Charging finished", finishing_d: "Please put the gun back in its holster.",
    done: "Done", done_d: "This charge: {kwh} kWh. Thank you!",
    cancelled: "Request cancelled", timed_out: "No car plugged in in time: the unit was taken back",
    unavailable: "This bay is not available now", faulted: "The unit reports a fault: please call the car park's staff",
    bad_token: "This QR code opens no bay", bad_token_d: "Scan the code on the bay's pillar again.",
    starting: "The system is starting, please wait…", offline: "Connection lost, reconnecting…",
    refused: "Not done: {why}", loading: "Loading…",
    s_Available: "Available", s_Preparing: "Preparing", s_Charging: "Charging", s_SuspendedEV: "Plugged in",
    s_SuspendedEVSE: "Paused", s_Finishing: "Finishing", s_Unavailable: "Unavailable", s_Faulted: "Fault",
  },
};

const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const base = `/api/bay/${encodeURIComponent(token)}`;
const $ = (id) => document.getElementById(id);
let view = null;   // the latest GET /api/bay/{token}
let failure = null; // "bad_token", "starting", "offline" or null
let message = "";
const i18n = makeI18n(STRINGS, render);

// What the owner sees, from the bay's view (docs/pages.md has the table).
export function phase(v) {
  const r = v.request, s = v.session;
  if (s && s.state === "open") return v.status === "Charging" ? "charging" : "connected";
  if (s && s.state === "stopped") return "finishing";
  if (r && (r.state === "accepted" || r.state === "queued")) return "queued";
  if (r && r.state === "delivered") return "here";
  if (v.status === "Unavailable") return "unavailable";
  if (v.status === "Faulted") return "faulted";
  if (r && r.state === "done" && s && s.state === "released") return "done";
  if (r && (r.state === "cancelled" || r.state === "timed_out")) return r.state;
  return "idle";
}

function render() {
  const t = i18n.t;
  $("lang").textContent = t("other");
  const card = $("card");
  const show = (id, on) => { $(id).hidden = !on; };
  $("message").textContent = message;
  if (failure || !view) {
    card.dataset.state = failure || "loading";
    document.title = "railbot";
    $("title").textContent = "railbot";
    $("status").textContent = "";
    $("headline").textContent = t(failure || "loading");
    $("detail").textContent = failure === "bad_token" ? t("bad_token_d") : "";
    for (const id of ["ask", "cancel", "energy-box"]) show(id, false);
    return;
  }
  const p = phase(view);
  const r = view.request, s = view.session;
  card.dataset.state = p;
  document.title = $("title").textContent = t("title", { bay: view.bay });
  $("status").textContent = t(`s_${view.status}`);
  $("status").dataset.status = view.status;
  let head = t(p), detail = "";
  if (p === "queued") {
    head = r.queue_position > 0 ? t("queued", { n: r.queue_position }) : t("working");
    detail = r.eta_s > 30 ? t("eta", { min: Math.max(1, Math.round(r.eta_s / 60)) }) : t("eta_now");
  } else if (p === "here") {
    detail = t("here_d", { unit: r.unit ?? "" });
  } else if (p === "idle") {
    detail = t("idle_d");
  } else if (p === "finishing") {
    detail = t("finishing_d");
  } else if (p === "done") {
    detail = t("done_d", { kwh: kwh(s.energy_wh) });
  }
  $("headline").textContent = head;
  $("detail").textContent = detail;
  show("energy-box", ["charging", "connected", "finishing"].includes(p));
  if (s) $("energy").textContent = kwh(s.energy_wh);
  $("energy").dataset.wh = s ? s.energy_wh : 0;
  show("ask", ["idle", "done", "cancelled", "timed_out"].includes(p));
  show("cancel", p === "queued");
}

async function refresh() {
  const res = await call(base);
  if (res.ok) { view = res.body; failure = null; }
  else if (res.status === 404) failure = "bad_token";
  else if (res.status === 503) failure = "starting";
  else failure = "offline";
  render();
  return res;
}

async function act(method) {
  for (const id of ["ask", "cancel"]) $(id).disabled = true;
  const res = await call(`${base}/request`, { method, body: method === "POST" ? {} : undefined });
  message = res.ok ? "" : i18n.t("refused", { why: res.body.error });
  if (res.ok) view = res.body;
  for (const id of ["ask", "cancel"]) $(id).disabled = false;
  render();
  await refresh();
}

$("lang").addEventListener("click", () => i18n.set(i18n.lang === "en" ? "zh-CN" : "en"));
$("ask").addEventListener("click", () => act("POST"));
$("cancel").addEventListener("click", () => act("DELETE"));
i18n.apply();
render();

// Live: the bay's events push a refresh; a slow poll carries the energy and the ETA in between.
let es = null;
async function start() {
  const res = await refresh();
  if (res.status === 404) return; // a wrong token: nothing to follow
  es = new EventSource(`${base}/events`);
  es.onmessage = refresh;
  for (const kind of ["request", "delivered", "session", "robot"]) es.addEventListener(kind, refresh);
  setInterval(refresh, 3000);
}
start();
window.railbotOwner = { refresh, phase, get view() { return view; } };
