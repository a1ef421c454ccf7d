// The encryption check (/check): open a check file saved by the ballot page,
// fetch that referendum's parameters from this server, and show what the
// encrypted ballot holds, as any verifier computes it.

import { checkAudit, ProtocolError } from '../protocol.js';
import { $, describe, fetchJSON, messages } from '../web/ui.js';

const text = messages();

async function parametersFor(electionHash) {
  const all = await fetchJSON('/api/referendums');
  const match = all.find((r) => r.election_hash === electionHash);
  if (!match) return null;
  return fetchJSON(`/api/referendums/${encodeURIComponent(match.slug)}/parameters`);
}

function show(verdict, good, lines) {
  $('check-verdict').textContent = verdict;
  $('check-verdict').className = good ? 'good' : 'bad';
  $('check-choices').replaceChildren(
    ...lines.map((line) => {
      const p = document.createElement('p');
      p.textContent = line;
      return p;
    }),
  );
  $('check-result').hidden = false;
  $('check-result').focus();
}

async function check(raw) {
  let file;
  try {
    file = JSON.parse(raw);
  } catch {
    return show(text.check_bad_file, false, []);
  }
  if (!file || file.type !== 'istifta/1/audit') return show(text.check_bad_file, false, []);
  const parameters = await parametersFor(file.election_hash);
  if (!parameters) return show(text.check_wrong_election, false, []);
  try {
    const { selections } = checkAudit(parameters, file);
    show(text.check_ok, true, describe(parameters.manifest, selections, text.nothing_chosen));
  } catch (error) {
    const claimed = Array.isArray(file.selections) ? file.selections : [];
    const lines = error instanceof ProtocolError && claimed.length
      ? [text.check_claimed, ...describe(parameters.manifest, claimed, text.nothing_chosen)]
      : [];
    show(text.check_failed, false, lines);
  }
}

$('check-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const picked = $('check-file').files[0];
  const raw = picked ? await picked.text() : $('check-text').value;
  check(raw).catch(() => show(text.check_bad_file, false, []));
});
