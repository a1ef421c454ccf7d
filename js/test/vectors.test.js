// The JavaScript protocol code against istifta's published vectors
// (tests/vectors/protocol-v1.json, docs/vectors.md) and RFC 9496.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  ProtocolError,
  SeededRandom,
  buildBallot,
  checkAudit,
  credentialSecret,
  electionHash,
  hs,
  jcs,
  makeAudit,
  normaliseCode,
  osRandom,
  publicCredential,
  tracker,
  verifyBallot,
  warmUp,
} from '../src/protocol.js';
import * as protocol from '../src/protocol.js';
import { G, decodePoint, decodeScalar, mulPublic, pointHex } from '../src/group.js';

const load = (name) =>
  JSON.parse(readFileSync(new URL(`../../tests/vectors/${name}`, import.meta.url), 'utf8'));
const V = load('protocol-v1.json');
const RFC = load('rfc9496.json');
const clone = (value) => structuredClone(value);

/** assert.throws for a ProtocolError with these fields. */
function throwsCode(fn, code, where = {}) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof ProtocolError, `expected a ProtocolError, got ${err}`);
    assert.equal(err.code, code, err.message);
    for (const [key, value] of Object.entries(where)) assert.equal(err[key], value, `${key}: ${err.message}`);
    return true;
  });
}

const HS_INPUT = {
  bytes: (value) => ({ bytes: value }),
  point: (value) => ({ point: value }),
  scalar: (value) => ({ scalar: decodeScalar(value) }),
  string: (value) => ({ str: value }),
  integer: (value) => ({ int: value }),
};

const API = [
  'ProtocolError',
  'SeededRandom',
  'buildBallot',
  'checkAudit',
  'credentialSecret',
  'electionHash',
  'hs',
  'jcs',
  'jhash',
  'makeAudit',
  'normaliseCode',
  'osRandom',
  'publicCredential',
  'sha256hex',
  'tracker',
  'verifyBallot',
  'warmUp',
];

it('exports exactly the documented API', () => {
  assert.deepEqual(Object.keys(protocol).sort(), API);
});

describe('primitives', () => {
  it('recomputes every Hs example', () => {
    assert.ok(V.hs.length >= 5);
    for (const { tag, inputs, output } of V.hs) {
      const scalar = hs(tag, ...inputs.map(({ type, value }) => HS_INPUT[type](value)));
      assert.equal(scalar, decodeScalar(output), tag);
    }
  });

  it('knows the generator', () => {
    assert.equal(pointHex(G), V.generator_point);
  });

  it('encodes the multiples of G as RFC 9496 does', () => {
    RFC.multiples_of_G.values.forEach((hex, k) => {
      assert.equal(pointHex(mulPublic(G, BigInt(k))), hex, `${k}·G`);
      if (k > 0) assert.ok(decodePoint(hex).equals(mulPublic(G, BigInt(k))));
    });
    assert.ok(decodePoint(RFC.multiples_of_G.values[0], 'identity', true).is0());
    throwsCode(() => decodePoint(RFC.multiples_of_G.values[0]), 'bad_point');
  });

  it('refuses every invalid encoding of RFC 9496', () => {
    for (const hex of RFC.invalid_encodings.values) {
      throwsCode(() => decodePoint(hex, 'p', true), 'bad_point');
    }
  });

  it('refuses bit 255, upper-case hex and scalars ≥ ℓ', () => {
    const g = V.generator_point;
    const high = g.slice(0, 62) + (parseInt(g.slice(62), 16) | 0x80).toString(16);
    throwsCode(() => decodePoint(high), 'bad_point');
    throwsCode(() => decodePoint('00'.repeat(31) + '80', 'p', true), 'bad_point');
    throwsCode(() => decodePoint(g.toUpperCase()), 'bad_point');
    const ell = 'edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010'; // ℓ, little-endian
    throwsCode(() => decodeScalar(ell), 'bad_scalar');
    const ellMinusOne = 'ec' + ell.slice(2);
    assert.equal(decodeScalar(ellMinusOne) + 1n, 2n ** 252n + 27742317777372353535851937790883648493n);
  });
});

describe('credentials', () => {
  it('normalises each typed code and derives x and P', () => {
    for (const c of V.credentials) {
      assert.equal(normaliseCode(c.as_typed), c.code);
      const x = credentialSecret(V.manifest_hash, c.as_typed);
      assert.equal(x, decodeScalar(c.x));
      assert.equal(publicCredential(x), c.P);
    }
  });

  it('refuses codes that are not 26 Crockford characters starting 0-7', () => {
    const code = V.credentials[0].code;
    throwsCode(() => normaliseCode(code.slice(1)), 'bad_credential');
    throwsCode(() => normaliseCode(code.slice(0, 25) + 'U'), 'bad_credential');
    throwsCode(() => normaliseCode('8' + code.slice(1)), 'bad_credential');
    throwsCode(() => normaliseCode(code + '_'), 'bad_credential');
    assert.equal(normaliseCode(` ${code.toLowerCase()} `), code);
  });
});

describe('ballots', () => {
  it('hashes the parameters to election_hash', () => {
    assert.equal(electionHash(V.parameters), V.election_hash);
  });

  it('verifies every vector ballot and recomputes its tracker', () => {
    for (const b of V.ballots) {
      verifyBallot(V.parameters, b.ballot);
      assert.equal(tracker(b.ballot), b.tracker);
    }
  });

  it('rebuilds every vector ballot byte for byte from its seed', () => {
    for (const b of V.ballots) {
      const x = credentialSecret(V.manifest_hash, b.code);
      const { ballot, randomness } = buildBallot(V.parameters, b.selections, x, new SeededRandom(b.seed));
      assert.deepEqual(jcs(ballot), jcs(b.ballot), b.seed);
      const audit = makeAudit(V.parameters, b.ballot, randomness, b.selections);
      assert.deepEqual(checkAudit(V.parameters, audit).selections, b.selections.map((c) => [...c].sort()));
    }
  });

  it('warms up without changing anything', async () => {
    const before = jcs(V.parameters);
    await warmUp(V.parameters);
    await warmUp();
    assert.deepEqual(jcs(V.parameters), before);
  });
});

describe('tampering', () => {
  const ballot = V.ballots[0].ballot;
  const flip = (hex) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);

  it('names the proof whose bytes changed', () => {
    const t = clone(ballot);
    t.answers[1].choice_proofs[1][0].c = flip(t.answers[1].choice_proofs[1][0].c);
    throwsCode(() => verifyBallot(V.parameters, t), 'choice_proof', { question: 1, option: 1 });
    const s = clone(ballot);
    s.answers[2].sum_proof[0].z = flip(s.answers[2].sum_proof[0].z);
    throwsCode(() => verifyBallot(V.parameters, s), 'sum_proof', { question: 2 });
    const g = clone(ballot);
    g.signature.z = flip(g.signature.z);
    throwsCode(() => verifyBallot(V.parameters, g), 'signature');
  });

  it('refuses another election, a bad shape, a bad point and an identity α', () => {
    const elsewhere = { ...ballot, election_hash: flip(ballot.election_hash) };
    throwsCode(() => verifyBallot(V.parameters, elsewhere), 'wrong_election');
    const short = clone(ballot);
    short.answers[1].choices.pop();
    throwsCode(() => verifyBallot(V.parameters, short), 'bad_shape', { question: 1 });
    throwsCode(() => verifyBallot(V.parameters, { ...ballot, extra: 1 }), 'bad_shape');
    const point = clone(ballot);
    point.answers[0].choices[0].beta = RFC.invalid_encodings.values[5];
    throwsCode(() => verifyBallot(V.parameters, point), 'bad_point', { question: 0, option: 0 });
    const identity = clone(ballot);
    identity.answers[2].choices[3].alpha = '00'.repeat(32);
    throwsCode(() => verifyBallot(V.parameters, identity), 'bad_point', { question: 2, option: 3 });
  });

  it('refuses selections the question does not allow', () => {
    const x = credentialSecret(V.manifest_hash, V.ballots[0].code);
    throwsCode(() => buildBallot(V.parameters, [[0, 1], [0], []], x), 'bad_selection', { question: 0 });
    throwsCode(() => buildBallot(V.parameters, [[0], [3], []], x), 'bad_selection', { question: 1 });
    throwsCode(() => buildBallot(V.parameters, [[0], [0], [0, 1, 2]], x), 'bad_selection', { question: 2 });
    throwsCode(() => buildBallot(V.parameters, [[0], [0], [1, 1]], x), 'bad_selection', { question: 2 });
    throwsCode(() => buildBallot(V.parameters, [[0], []], x), 'bad_selection');
  });
});

describe('cast-as-intended audit', () => {
  const x = credentialSecret(V.manifest_hash, V.ballots[0].code);
  const selections = [[1], [2], [3, 0]];
  const { ballot, randomness } = buildBallot(V.parameters, selections, x, osRandom);
  const audit = makeAudit(V.parameters, ballot, randomness, selections);

  it('round-trips through JSON and returns the selections', () => {
    verifyBallot(V.parameters, ballot);
    const { selections: opened } = checkAudit(V.parameters, JSON.parse(JSON.stringify(audit)));
    assert.deepEqual(opened, [[1], [2], [0, 3]]);
    const reordered = makeAudit(V.parameters, ballot, randomness, [[1], [2], [0, 3]]);
    assert.deepEqual(checkAudit(V.parameters, reordered).selections, opened);
  });

  it('opens the implicit option and the empty choice', () => {
    const built = buildBallot(V.parameters, [[0], [0], []], x, new SeededRandom('audit'));
    const audit0 = makeAudit(V.parameters, built.ballot, built.randomness, [[0], [0], []]);
    assert.deepEqual(checkAudit(V.parameters, audit0).selections, [[0], [0], []]);
    const built1 = buildBallot(V.parameters, [[1], [2], [0]], x, new SeededRandom('audit 2'));
    const audit1 = makeAudit(V.parameters, built1.ballot, built1.randomness, [[1], [2], [0]]);
    assert.deepEqual(checkAudit(V.parameters, audit1).selections, [[1], [2], [0]]);
  });

  it('catches randomness that does not open the ballot', () => {
    const tampered = clone(audit);
    tampered.randomness[2][1] = randomness[2][0];
    throwsCode(() => checkAudit(V.parameters, tampered), 'audit_mismatch', { question: 2, option: 1 });
    const short = clone(audit);
    short.randomness[1].pop();
    throwsCode(() => checkAudit(V.parameters, short), 'audit_mismatch', { question: 1 });
  });

  it('catches a page that lies about what it encrypted', () => {
    const claim = (selections) => () => checkAudit(V.parameters, { ...audit, selections });
    throwsCode(claim([[0], [2], [0, 3]]), 'audit_claim', { question: 0 });
    throwsCode(claim([[1], [2], [3]]), 'audit_claim', { question: 2 });
    throwsCode(claim([[1], [1], [0, 3]]), 'audit_claim', { question: 1 });
  });

  it('refuses an audit for another election or with a broken ballot', () => {
    const elsewhere = { ...audit, election_hash: V.manifest_hash };
    throwsCode(() => checkAudit(V.parameters, elsewhere), 'wrong_election');
    const broken = clone(audit);
    broken.ballot.signature.c = broken.ballot.signature.z;
    throwsCode(() => checkAudit(V.parameters, broken), 'signature');
  });
});
