// The SMS templates editor of the Invitations page. As the organiser types,
// the form's texts go (300 ms after the last key, with the form's CSRF field)
// to the form's data-check URL, which checks them with the same library as
// `istifta sms estimate`; each template's encoding, characters, segments,
// preview and error are then updated, and the cost estimate with them.
// Without this script the "Check" button does the same by reloading the page.

const DELAY_MS = 300;

function role(box, name) {
  return box.querySelector(`[data-role="${name}"]`);
}

function showTemplate(box, r) {
  const numbers = box.querySelector('.sms-numbers');
  const fallback = box.querySelector('.sms-fallback');
  const error = role(box, 'error');
  const preview = role(box, 'preview');
  const textarea = box.querySelector('textarea');
  if (fallback) fallback.hidden = !r.fallback;
  if (numbers) numbers.hidden = r.fallback || !r.encoding;
  role(box, 'encoding').textContent = r.encoding;
  role(box, 'characters').textContent = r.characters;
  role(box, 'segments').textContent = r.segments;
  error.textContent = r.error || '';
  error.hidden = !r.error;
  box.classList.toggle('invalid', Boolean(r.error));
  if (textarea) {
    if (r.error) textarea.setAttribute('aria-invalid', 'true');
    else textarea.removeAttribute('aria-invalid');
  }
  preview.textContent = r.preview || '';
  preview.closest('.sms-preview').hidden = !r.preview;
}

function showEstimate(root, estimate) {
  const box = root.querySelector('.sms-estimate');
  if (!box || !estimate) return;
  const rows = box.querySelectorAll('tbody tr');
  estimate.rows.forEach((row, i) => {
    const cells = rows[i] ? rows[i].querySelectorAll('td') : [];
    row.forEach((value, j) => {
      if (cells[j]) cells[j].textContent = value;
    });
  });
  const text = box.querySelector('.sms-cost');
  if (text) text.textContent = estimate.text;
}

function startForm(root, form) {
  let timer = null;
  let asked = 0;
  const save = form.querySelector('button[value="save"]');

  async function check() {
    const mine = ++asked;
    const answer = await fetch(form.dataset.check, {
      method: 'POST',
      body: new FormData(form),
      credentials: 'same-origin',
      headers: { Accept: 'application/json' },
    });
    if (!answer.ok || mine !== asked) return; // a later check is on its way
    const data = await answer.json();
    for (const [name, r] of Object.entries(data.templates)) {
      const box = form.querySelector(`[data-template="${name}"]`);
      if (box) showTemplate(box, r);
    }
    showEstimate(root, data.estimate);
    if (save) save.disabled = !data.ok;
  }

  form.addEventListener('input', () => {
    clearTimeout(timer);
    timer = setTimeout(() => check().catch(() => {}), DELAY_MS);
  });
}

export function startTemplates(root) {
  for (const form of root.querySelectorAll('form[data-check]')) {
    if (form.querySelector('textarea[readonly]')) continue; // an observer reads, never checks
    startForm(root, form);
  }
}
