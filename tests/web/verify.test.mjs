// The dashboard's proof checking (api/web/verify.js) under Node's Web
// Crypto, against the published RFC 6962 vectors (transcribed from
// transparency-dev/merkle, as tests/ledger/rfc6962_vectors.h holds them) and
// against signatures made here with an Ed25519 key of its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';

const require = createRequire(import.meta.url);
const P = require('../../api/web/verify.js');

const LEAVES = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657',
                '606162636465666768696a6b6c6d6e6f'];
const ROOTS = [
  null,
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const INCLUSION = [  // [leaf index (0-based), tree size, audit path]
  [0, 1, []],
  [0, 8, ['96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4']],
  [5, 8, ['bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
          'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
          'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7']],
  [2, 3, ['fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125']],
  [1, 5, ['6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
          '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
          'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b']],
];

test('audit paths lead to the published roots, and altered ones do not', async () => {
  for (const [index, size, path] of INCLUSION) {
    const leaf = await P.leafHash(P.fromHex(LEAVES[index]));
    const root = await P.rootFromPath(index, size, leaf, path.map(P.fromHex));
    assert.equal(root && P.toHex(root), ROOTS[size], `leaf ${index} of ${size}`);
    if (path.length) {
      const altered = path.map(P.fromHex);
      altered[0][0] ^= 1;
      const wrong = await P.rootFromPath(index, size, leaf, altered);
      assert.notEqual(P.toHex(wrong), ROOTS[size]);
      // One hash too many or too few is no proof at all.
      assert.equal(await P.rootFromPath(index, size, leaf, path.slice(1).map(P.fromHex)), null);
    }
    assert.equal(await P.rootFromPath(index, size, leaf, [...path, path[0] || ROOTS[1]].map(P.fromHex)), null);
  }
  assert.equal(await P.rootFromPath(8, 8, new Uint8Array(32), []), null);
});

// A signed head made the way the ledger makes it (ledger/tree_head.h), and an
// inclusion proof answer around leaf 5 of the 8-leaf vector tree.
function fixture() {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const head = { size: 8, root_hash: ROOTS[8], timestamp: '2025-03-01T12:30:05.000042Z' };
  const numbers = Buffer.alloc(16);
  numbers.writeBigUInt64BE(8n, 0);
  numbers.writeBigUInt64BE(BigInt(Date.UTC(2025, 2, 1, 12, 30, 5)) * 1000n + 42n, 8);
  const message = Buffer.concat([Buffer.from('rehab-access-ledger tree head v1\n'), numbers,
                                 Buffer.from(ROOTS[8], 'hex')]);
  head.signature = sign(null, message, privateKey).toString('hex');
  const prev = 'ab'.repeat(32);
  const leafBytes = Buffer.from(LEAVES[5], 'hex');
  const hash = createHash('sha256').update(Buffer.from(prev, 'hex')).update(leafBytes).digest('hex');
  const proof = {
    seq: 6, size: 8, leaf_index: 5, leaf: LEAVES[5], prev_hash: prev, hash,
    leaf_hash: createHash('sha256').update(Buffer.from([0])).update(leafBytes).digest('hex'),
    audit_path: INCLUSION[2][2], tree_head: head,
  };
  return { pem: publicKey.export({ type: 'spki', format: 'pem' }), head, proof, hash };
}

test('a genuine proof verifies; each kind of tampering is named', async () => {
  const { pem, head, proof, hash } = fixture();
  const { key, fingerprint } = await P.importKey(pem);
  assert.match(fingerprint, /^[0-9a-f]{64}$/);
  assert.deepEqual(await P.checkInclusion(proof, hash, head, key), { ok: true, problems: [] });
  const tamper = async (change, eventHash = hash) => {
    const p = structuredClone(proof);
    change(p);
    const r = await P.checkInclusion(p, eventHash, head, key);
    assert.equal(r.ok, false);
    return r.problems.join('; ');
  };
  const flip = (hex) => (hex[0] === '0' ? '1' : '0') + hex.slice(1);
  assert.match(await tamper((p) => { p.audit_path[1] = flip(p.audit_path[1]); }), /audit path/);
  assert.match(await tamper((p) => { p.leaf = p.leaf.slice(0, -2) + '00'; }), /leaf hash .*chain hash/);
  assert.match(await tamper((p) => { p.tree_head.signature = flip(p.tree_head.signature); }), /signature/);
  assert.match(await tamper((p) => { p.tree_head.timestamp = '2025-03-01T12:30:06.000042Z'; }), /signature/);
  assert.match(await tamper(() => {}, flip(hash)), /chain hash/);
  assert.match(await tamper((p) => { delete p.leaf; }), /bytes were not served/);
  assert.match(await tamper((p) => { p.audit_path = 'zz'; }), /could not be read/);
  // A head other than the one the page was computed at.
  const other = { ...head, root_hash: ROOTS[7] };
  assert.match((await P.checkInclusion(proof, hash, other, key)).problems.join(), /not the one/);
  // Another key.
  const stranger = await P.importKey(generateKeyPairSync('ed25519').publicKey
    .export({ type: 'spki', format: 'pem' }));
  assert.match((await P.checkInclusion(proof, hash, head, stranger.key)).problems.join(), /signature/);
});

// Go's golang.org/x/mod/sumdb/note vector: the PeterNeumann key and a note
// it signed.
const PN_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const PN_NOTE = 'If you think cryptography is the answer to your problem,\n' +
  'then you don\'t know what your problem is.\n\n' +
  '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';

test('a signed note verifies with its verifier key, and not once altered', async () => {
  const key = await P.importVkey(PN_VKEY, 1);
  assert.equal(key.name, 'PeterNeumann');
  assert.equal(await P.noteSigned(P.parseNote(PN_NOTE), key), true);
  assert.equal(await P.noteSigned(P.parseNote(PN_NOTE.replace('If', 'if')), key), false);
  await assert.rejects(P.importVkey(PN_VKEY, 4), /type 4/);
  await assert.rejects(P.importVkey(PN_VKEY.replace('c74f20a3', 'c74f20a4'), 1), /id/);
  assert.throws(() => P.parseNote('no signatures\n'), /signed note/);
});

test('a cosignature/v1 gives its time only for its key, text and time', async () => {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const name = 'witness.example/w1';
  const material = Buffer.concat([Buffer.from([4]), raw]);
  const id = createHash('sha256').update(Buffer.concat([Buffer.from(name + '\n'), material]))
    .digest().subarray(0, 4);
  const vkey = `${name}+${id.toString('hex')}+${material.toString('base64')}`;
  const text = 'example.com/log\n5\n' + Buffer.alloc(32, 7).toString('base64') + '\n';
  const time = Buffer.alloc(8);
  time.writeBigUInt64BE(1700000000n);
  const sig = sign(null, Buffer.from(`cosignature/v1\ntime 1700000000\n${text}`), privateKey);
  const line = `\u2014 ${name} ${Buffer.concat([id, time, sig]).toString('base64')}\n`;
  const key = await P.importVkey(vkey, 4);
  assert.equal(await P.cosignedBy(P.parseNote(`${text}\n${line}`), key), 1700000000);
  assert.deepEqual(P.parseCheckpoint(text),
                   { origin: 'example.com/log', size: 5, root: '07'.repeat(32) });
  // Another time under the same signature, or another text: no cosignature.
  time.writeBigUInt64BE(1700000001n);
  const moved = `\u2014 ${name} ${Buffer.concat([id, time, sig]).toString('base64')}\n`;
  assert.equal(await P.cosignedBy(P.parseNote(`${text}\n${moved}`), key), null);
  assert.equal(await P.cosignedBy(P.parseNote(`${text.replace('5', '6')}\n${line}`), key), null);
  // A log's signature by the same key is not a cosignature.
  assert.equal(await P.noteSigned(P.parseNote(`${text}\n${line}`), key), false);
});
