// What both pages share: the language (zh-CN first, English by choice), calls to the API, an event stream.

const LANG_KEY = "railbot.lang";

// ?lang=en|zh-CN wins (a link can choose), then the owner's last choice, then Chinese.
export function initialLang() {
  const q = new URLSearchParams(location.search).get("lang");
  if (q === "en" || q === "zh-CN") return q;
  const saved = localStorage.getItem(LANG_KEY);
  return saved === "en" ? "en" : "zh-CN";
}

export function makeI18n(strings, onChange) {
  const i18n = {
    lang: initialLang(),
    t(key, vars = {}) {
      const table = strings[i18n.lang] || strings["zh-CN"];
      let s = table[key] ?? strings.en[key] ?? key;
      for (const [k, v] of Object.entries(vars)) s = s.replaceAll(`{${k}}`, String(v));
      return s;
    },
    set(lang) {
      i18n.lang = lang;
      localStorage.setItem(LANG_KEY, lang);
      document.documentElement.lang = lang;
      i18n.apply();
      onChange();
    },
    // every element with data-t="key" gets its text; data-tp="key" its placeholder
    apply() {
      document.documentElement.lang = i18n.lang;
      for (const el of document.querySelectorAll("[data-t]")) el.textContent = i18n.t(el.dataset.t);
      for (const el of document.querySelectorAll("[data-tp]")) el.placeholder = i18n.t(el.dataset.tp);
    },
  };
  return i18n;
}

// One call: {ok, status, body}; a network failure is status 0 with body {error}.
export async function call(path, { method = "GET", body, auth } = {}) {
  const headers = {};
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (auth) headers["Authorization"] = auth;
  try {
    // credentials "omit": a 401 with WWW-Authenticate is ours to show, not the browser's login box
    const resp = await fetch(path, { method, headers, credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body) });
    let data = null;
    try { data = await resp.json(); } catch { data = { error: `HTTP ${resp.status}` }; }
    return { ok: resp.ok, status: resp.status, body: data };
  } catch (e) {
    return { ok: false, status: 0, body: { error: String(e) } };
  }
}

// Server-sent events over fetch, so the operator's Authorization header goes with them (EventSource
// cannot send one). onEvent(obj) per event; reconnects after a drop, resuming after the last id.
export function stream(path, { auth, onEvent, onState, after = 0 }) {
  let last = after;
  let stopped = false;
  async function run() {
    while (!stopped) {
      try {
        const resp = await fetch(`${path}?after=${last}`,
          { headers: auth ? { Authorization: auth } : {}, credentials: "omit" });
        if (!resp.ok) throw new Error(`HTTP ${resp.status}`);
        onState && onState(true);
        const reader = resp.body.getReader();
        const dec = new TextDecoder();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, cut);
            buf = buf.slice(cut + 2);
            const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
            if (!data) continue;  // a keep-alive comment
            const ev = JSON.parse(data);
            last = Math.max(last, ev.id);
            onEvent(ev);
          }
        }
      } catch (e) {
        onState && onState(false);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  }
  run();
  return { stop() { stopped = true; } };
}

export function kwh(wh) {
  return (wh / 1000).toFixed(wh < 10000 ? 2 : 1);
}

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("data-")) e.setAttribute(k, v);
    else e[k] = v;
  }
  for (const c of children) e.append(c);
  return e;
}
