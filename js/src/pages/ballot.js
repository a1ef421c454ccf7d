// The ballot page (/v/<slug>#<code>): derive the credential from the code in
// the fragment, encrypt and prove the ballot on the phone, cast it, check
// the receipt. The code never leaves the phone; the server sees P and the
// encrypted ballot only.

import {
  buildBallot, checkAudit, credentialSecret, jhash, makeAudit, publicCredential, tracker, warmUp,
} from '../protocol.js';
import { inElectorate, receiptHolds } from '../web/receipt.js';
import {
  $, HttpError, askForCode, codeFromFragment, describe, fetchJSON, formSelections, keepFragment, messages,
  offerJSON, say, shortTracker,
} from '../web/ui.js';

const app = $('app');
const slug = app.dataset.slug;
const api = `/api/referendums/${encodeURIComponent(slug)}`;
const text = messages();
const form = $('ballot');
const state = { parameters: null, x: null, P: null, pending: null, ready: null };

function busy(on) {
  for (const button of form.querySelectorAll('button')) button.disabled = on;
}

function failure(error) {
  if (error instanceof HttpError) {
    const known = { referendum_closed: 'closed', referendum_not_open: 'not_open', rate_limited: 'rate_limited', busy: 'busy' };
    if (error.code === 'referendum_closed') form.hidden = true;
    return known[error.code] ? text[known[error.code]] : `${text.refused} ${error.message}`;
  }
  if (error && error.code === 'bad_selection') return text.choose;
  return text.network;
}

/** Derive the credential and check it against the electorate, while the
 * voter reads the question; resolves to true when the voter may vote. The
 * warm-up (noble's tables) follows, still while the voter reads. */
async function prepare(code) {
  const parameters = state.parameters;
  state.x = credentialSecret(jhash(parameters.manifest), code);
  state.P = publicCredential(state.x);
  const [proof, mine] = await Promise.all([
    fetchJSON(`${api}/electorate/${state.P}`).catch((error) => {
      if (error instanceof HttpError && error.code === 'not_eligible') return null;
      throw error;
    }),
    fetchJSON(`${api}/credentials/${state.P}`),
  ]);
  const refusal = !proof ? text.not_eligible : !inElectorate(proof, state.P, parameters.electorate) ? text.electorate_bad : null;
  if (refusal) {
    form.hidden = true;
    say(refusal, 'bad');
    return false;
  }
  if (mine.ballots.length) say(text.already_voted);
  mark('checked');
  return true;
}

/** Performance marks (istifta:ready, :checked, :warm, :click, :build, :ballot-ready) for bench/page.py. */
const mark = (name) => performance.mark(`istifta:${name}`);

function choices() {
  const selections = formSelections(form, state.parameters.manifest.questions);
  const ok = state.parameters.manifest.questions.every(
    (q, i) => selections[i].length >= q.min && selections[i].length <= q.max,
  );
  return ok ? selections : null;
}

async function cast(event) {
  event.preventDefault();
  mark('click');
  const selections = choices();
  if (!selections) return say(text.choose, 'bad');
  busy(true);
  try {
    if (!(await state.ready)) return;
    const key = JSON.stringify(selections);
    if (!state.pending || state.pending.key !== key) {
      say(text.encrypting);
      mark('build');
      state.pending = { key, ballot: buildBallot(state.parameters, selections, state.x).ballot };
      mark('ballot-ready');
    }
    say(text.sending);
    // The same bytes again after a lost answer: the server gives the same receipt.
    const receipt = await fetchJSON(`${api}/ballots`, JSON.stringify(state.pending.ballot));
    await showReceipt(receipt, state.pending.ballot);
    state.pending = null;
  } catch (error) {
    say(failure(error), 'bad');
  } finally {
    busy(false);
  }
}

async function showReceipt(receipt, ballot) {
  const entry = await fetchJSON(`${api}/board/${receipt.index}`);
  const holds = receiptHolds(receipt, entry.entry, ballot, app.dataset.boardKey);
  const t = tracker(ballot);
  $('tracker-short').textContent = shortTracker(t);
  $('tracker-full').textContent = t;
  $('receipt-check').textContent = holds ? text.receipt_ok : text.receipt_bad;
  $('receipt-check').className = holds ? 'good' : 'bad';
  $('board-link').href = `/r/${encodeURIComponent(slug)}/board/${receipt.index}`;
  offerJSON($('receipt-download'), { referendum: slug, ...receipt, tracker: t, board_key: app.dataset.boardKey });
  form.hidden = true;
  $('audit-result').hidden = true;
  $('receipt').hidden = false;
  say(text.cast_ok, 'good');
  $('receipt').focus();
}

async function audit() {
  const selections = choices();
  if (!selections) return say(text.choose, 'bad');
  if (!(await state.ready.catch(() => false))) return;
  const { ballot, randomness } = buildBallot(state.parameters, selections, state.x);
  const file = makeAudit(state.parameters, ballot, randomness, selections);
  let verdict = text.audit_ok;
  let found = selections;
  try {
    found = checkAudit(state.parameters, file).selections;
  } catch {
    verdict = text.audit_bad;
  }
  $('audit-says').textContent = text.audit_says;
  const list = $('audit-choices');
  list.replaceChildren(
    ...describe(state.parameters.manifest, found, text.nothing_chosen).map((line) => {
      const item = document.createElement('li');
      item.textContent = line;
      return item;
    }),
  );
  $('audit-verdict').textContent = verdict;
  $('audit-verdict').className = verdict === text.audit_ok ? 'good' : 'bad';
  $('audit-discarded').textContent = text.audit_discarded;
  offerJSON($('audit-download'), file);
  state.pending = null; // the audited ballot is spoiled: the next cast encrypts afresh
  $('audit-result').hidden = false;
  $('audit-result').focus();
}

function again() {
  $('receipt').hidden = true;
  form.reset();
  form.hidden = false;
  say(text.already_voted);
  form.querySelector('input')?.focus();
}

function main() {
  keepFragment();
  if (!form) return; // closed or not open: the page says so already
  let code = null;
  try {
    code = codeFromFragment();
  } catch {
    say(text.bad_code, 'bad');
    return askForCode();
  }
  if (!code) {
    say(text.no_code, 'bad');
    return askForCode();
  }
  state.parameters = JSON.parse($('parameters').textContent);
  form.hidden = false;
  mark('ready');
  state.ready = prepare(code);
  state.ready
    .then((ok) => ok && warmUp(state.parameters).then(() => mark('warm')))
    .catch((error) => say(failure(error), 'bad'));
  form.addEventListener('submit', cast);
  $('audit').addEventListener('click', audit);
  $('again').addEventListener('click', again);
}

main();
