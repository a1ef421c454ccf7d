// Live figures: an element with data-poll="URL" is refreshed every
// data-every seconds (default 5) from the JSON at URL; each descendant with
// data-key="a.b" takes the number at that path, written in the page's
// digits. An <img data-refresh> (a server-drawn SVG chart) is reloaded
// on the same beat. Polling pauses while the tab is hidden.

function numberFormat(lang) {
  try {
    return new Intl.NumberFormat(lang === 'en' ? 'en' : `${lang}-IQ`, { numberingSystem: lang === 'en' ? 'latn' : 'arab' });
  } catch (_) {
    return new Intl.NumberFormat();
  }
}

function at(obj, path) {
  return path.split('.').reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

async function refresh(box, format) {
  if (document.hidden) return;
  const url = box.dataset.poll;
  if (url) {
    const answer = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
    if (!answer.ok) return;
    const data = await answer.json();
    for (const el of box.querySelectorAll('[data-key]')) {
      const value = at(data, el.dataset.key);
      if (typeof value === 'number') el.textContent = format.format(value);
      else if (typeof value === 'string') el.textContent = value;
    }
  }
  for (const img of box.querySelectorAll('img[data-refresh]')) {
    const base = img.src.split('#')[0].replace(/([?&])t=\d+/, '$1').replace(/[?&]$/, '');
    img.src = `${base}${base.includes('?') ? '&' : '?'}t=${Date.now()}`;
  }
}

export function startLive(root) {
  const format = numberFormat(document.documentElement.lang);
  for (const box of root.querySelectorAll('[data-poll], [data-refresh-box]')) {
    const every = Math.max(2, Number(box.dataset.every || 5)) * 1000;
    setInterval(() => refresh(box, format).catch(() => {}), every);
  }
}
