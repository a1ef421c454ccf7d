// What the three page scripts share: the translated messages the server put
// in the page, the code from the link's fragment, and JSON over fetch.

import { normaliseCode } from '../protocol.js';

export const $ = (id) => document.getElementById(id);

/** The page's translated strings (a JSON data block rendered by the server). */
export function messages() {
  const block = $('messages');
  return block ? JSON.parse(block.textContent) : {};
}

/** Show a message in the live status line (read out by screen readers). */
export function say(text, kind = '') {
  const status = $('status');
  if (!status) return;
  status.textContent = text;
  status.className = `status ${kind}`;
}

/** The credential code in the link's fragment, normalised, or null. It is
 * never sent to the server: only what is derived from it (P) is. */
export function codeFromFragment() {
  const raw = decodeURIComponent(window.location.hash.replace(/^#/, ''));
  return raw ? normaliseCode(raw) : null;
}

/** Keep the fragment on the language switch and on links between voter pages. */
export function keepFragment() {
  if (!window.location.hash) return;
  for (const link of document.querySelectorAll('a.keep-hash')) {
    link.href = link.href.split('#')[0] + window.location.hash;
  }
}

export class HttpError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.code = body && body.code ? body.code : 'http';
  }
}

/** GET or POST JSON with a timeout; throws HttpError on a non-2xx answer. */
export async function fetchJSON(url, body) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 30000);
  try {
    const init = { signal: controller.signal, headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.method = 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = body;
    }
    const response = await fetch(url, init);
    const data = await response.json().catch(() => null);
    if (!response.ok) throw new HttpError(response.status, data);
    return data;
  } finally {
    clearTimeout(timer);
  }
}

/** A text of the manifest in the page's language, else Arabic, else the first. */
export function localised(texts) {
  const lang = document.documentElement.lang;
  return texts[lang] || texts.ar || Object.values(texts)[0] || '';
}

/** A number in the page's language (Arabic-Indic digits for ar and ckb). */
export function number(n) {
  const lang = document.documentElement.lang;
  const locale = lang === 'en' ? 'en-GB' : `${lang}-IQ-u-nu-arab`;
  return new Intl.NumberFormat(locale).format(n);
}

/** A download link for a JSON object. */
export function offerJSON(link, object) {
  const blob = new Blob([JSON.stringify(object, null, 1)], { type: 'application/json' });
  link.href = URL.createObjectURL(blob);
}

/** The tracker's short form, to read aloud: its first 8 characters in two groups. */
export const shortTracker = (tracker) => `${tracker.slice(0, 4)} ${tracker.slice(4, 8)}`.toUpperCase();

/** The voter's selections from a server-rendered form (inputs named q0, q1, …). */
export function formSelections(form, questions) {
  return questions.map((_, q) =>
    Array.from(form.querySelectorAll(`input[name="q${q}"]:checked`)).map((input) => Number(input.value)),
  );
}

/** The labels of the chosen options, per question, in the page's language. */
export function describe(manifest, selections, none) {
  return manifest.questions.map((q, i) => {
    const chosen = selections[i].map((o) => localised(q.options[o].label));
    return `${localised(q.text)} — ${chosen.length ? chosen.join('، ') : none}`;
  });
}

/** A link without its code: show the form where the voter types the code
 * from the SMS; it goes into the fragment, never to the server. */
export function askForCode() {
  const codeForm = $('code-form');
  codeForm.hidden = false;
  codeForm.addEventListener('submit', (event) => {
    event.preventDefault();
    window.location.hash = $('code').value.trim();
    window.location.reload();
  });
}
