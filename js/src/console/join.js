// The join page: the invitation link carries its code in the fragment
// (…/console/join#CODE), which the browser never sends. Put it in the form's
// code field, then take it out of the address bar and the history, so that
// it is not left on screen nor kept as a visited address. Without this
// script, the person pastes the code.

export function startJoin(root) {
  const form = root.querySelector('form[data-join]');
  if (!form) return;
  const field = form.querySelector('input[name="code"]');
  const code = window.location.hash.slice(1);
  if (!field || !code) return;
  try {
    field.value = decodeURIComponent(code).trim();
  } catch (_) {
    field.value = code.trim();
  }
  history.replaceState(null, '', window.location.pathname + window.location.search);
  const next = form.querySelector('input[name="username"]');
  if (next && !next.value) next.focus();
}
