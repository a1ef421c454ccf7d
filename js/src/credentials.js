// Voters' credentials (PROTOCOL.md §4, docs/protocol.md §4).

import { ProtocolError } from './errors.js';
import { G, mod, mulSecret, pointHex } from './group.js';
import { hs } from './hashing.js';

const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LENGTH = 26;
const READ_AS = { I: '1', L: '1', O: '0', ' ': '', '-': '' };

const refuse = (message) => new ProtocolError('bad_credential', message);

/**
 * The code as Crockford base32 reads it: upper case, spaces and hyphens
 * dropped, I and L as 1, O as 0. Refused unless it is then 26 alphabet
 * characters whose first is 0–7 (128 bits). Messages never repeat the code.
 */
export function normaliseCode(typed) {
  if (typeof typed !== 'string') throw refuse('a credential code is text');
  const code = typed.toUpperCase().replace(/[ILO \-]/g, (ch) => READ_AS[ch]);
  const chars = [...code]; // code points, as Python counts them
  if (chars.length !== CODE_LENGTH) {
    throw refuse(`a credential code has ${CODE_LENGTH} characters; this one has ${chars.length}`);
  }
  for (let i = 0; i < CODE_LENGTH; i++) {
    if (!ALPHABET.includes(chars[i])) {
      throw refuse(
        `character ${i + 1} of the credential code is not a Crockford base32 ` +
          'character (digits and letters other than I, L, O, U)',
      );
    }
  }
  if (ALPHABET.indexOf(code[0]) > 7) throw refuse("the credential code's first character must be 0-7");
  return code;
}

/** x = Hs("istifta/1/credential", manifest_hash, code), the code normalised first. */
export function credentialSecret(manifestHash, code) {
  return hs('istifta/1/credential', { hash: manifestHash }, { str: normaliseCode(code) });
}

/** P = x·G, as hex. x = 0 is refused so that P is never the identity. */
export function publicCredential(x) {
  if (mod(x) === 0n) {
    throw refuse('this credential code derives the zero scalar; issue another');
  }
  return pointHex(mulSecret(G, x));
}
