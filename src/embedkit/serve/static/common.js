// Shared by the embedkit pages: API calls with the optional key, and small DOM helpers.
"use strict";

const embedkit = (() => {
  const KEY = "embedkit-api-key";

  function headers() {
    const h = { "Content-Type": "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) h["Authorization"] = "Bearer " + key;
    return h;
  }

  async function api(method, path, body) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const r = await fetch(path, {
        method, headers: headers(), body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (r.status === 401 && attempt === 0) {
        const key = prompt("This service needs an API key:");
        if (!key) throw new Error("an API key is needed");
        sessionStorage.setItem(KEY, key.trim());
        continue;
      }
      const data = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error((data.error && data.error.message) || r.statusText);
      return data;
    }
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  }

  // Text with <mark> around the [start, end) spans; long texts are cut to a passage around
  // the first highlight.
  function highlighted(text, spans, width) {
    const frag = document.createDocumentFragment();
    let from = 0, to = text.length;
    if (width && text.length > width) {
      const first = spans && spans.length ? spans[0][0] : 0;
      from = Math.max(0, Math.min(first - Math.floor(width / 3), text.length - width));
      to = Math.min(text.length, from + width);
    }
    if (from > 0) frag.append("… ");
    let pos = from;
    for (const [a, b] of spans || []) {
      if (b <= from || a >= to) continue;
      const s = Math.max(a, from), e = Math.min(b, to);
      if (s > pos) frag.append(text.slice(pos, s));
      frag.append(el("mark", {}, text.slice(s, e)));
      pos = e;
    }
    if (pos < to) frag.append(text.slice(pos, to));
    if (to < text.length) frag.append(" …");
    return frag;
  }

  return { api, el, highlighted };
})();
