// "Did my code vote?" (/v/<slug>/status#<code>): the ballots of this
// credential on the board, and the one that counts (the last).

import { credentialSecret, jhash, publicCredential } from '../protocol.js';
import { $, askForCode, codeFromFragment, fetchJSON, keepFragment, messages, say, shortTracker } from '../web/ui.js';

const slug = $('app').dataset.slug;
const api = `/api/referendums/${encodeURIComponent(slug)}`;
const text = messages();

async function show(code) {
  say(text.loading);
  const parameters = await fetchJSON(`${api}/parameters`);
  const P = publicCredential(credentialSecret(jhash(parameters.manifest), code));
  const mine = await fetchJSON(`${api}/credentials/${P}`);
  say('');
  $('mine-summary').textContent = mine.ballots.length
    ? text.status_some.replace('{n}', String(mine.ballots.length))
    : text.status_none;
  $('mine-ballots').replaceChildren(
    ...mine.ballots.map((b) => {
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = `/r/${encodeURIComponent(slug)}/board/${b.index}`;
      link.textContent = `${shortTracker(b.tracker)} — ${b.received_at}`;
      if (b.tracker === mine.counted) item.className = 'good';
      item.append(link);
      return item;
    }),
  );
  $('mine-final').textContent = mine.counted && mine.state !== 'open' ? text.status_final : '';
  $('mine').hidden = false;
}

function main() {
  keepFragment();
  let code = null;
  try {
    code = codeFromFragment();
  } catch {
    return say(text.bad_code, 'bad');
  }
  if (!code) {
    say(text.no_code, 'bad');
    return askForCode();
  }
  show(code).catch(() => say(text.network, 'bad'));
}

main();
