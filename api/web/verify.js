// Proof checking in the browser (SPEC §5), with Web Crypto only: nothing of
// the server's reasoning is taken on trust except the bytes it serves.
//
//   leaf hash   = SHA-256(0x00 || canonical bytes)          (RFC 6962)
//   node hash   = SHA-256(0x01 || left || right)
//   chain link  = SHA-256(previous link || canonical bytes)
//   tree head   = Ed25519 over "rehab-access-ledger tree head v1\n" ||
//                 size (8 bytes, big-endian) || timestamp in microseconds
//                 (8 bytes, big-endian) || root (32 bytes)
//
// A classic script (the page's policy allows no modules from elsewhere and
// no eval); it defines the global LedgerProof, and module.exports under Node
// for the tests.
'use strict';

const LedgerProof = (() => {
  const HEAD_LINE = 'rehab-access-ledger tree head v1\n';

  function fromHex(hex) {
    if (typeof hex !== 'string' || hex.length % 2 !== 0 || /[^0-9a-fA-F]/.test(hex)) {
      throw new Error('not hex');
    }
    const out = new Uint8Array(hex.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(2 * i, 2), 16);
    return out;
  }
  function toHex(bytes) {
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  function concat(...parts) {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  }
  async function sha256(...parts) {
    return new Uint8Array(await crypto.subtle.digest('SHA-256', concat(...parts)));
  }
  const leafHash = (bytes) => sha256(Uint8Array.of(0), bytes);
  const nodeHash = (left, right) => sha256(Uint8Array.of(1), left, right);

  // The root that `path` leads to from leaf `index` of a tree of `size`
  // leaves (RFC 9162 §2.1.3.2), or null when the path has the wrong length.
  async function rootFromPath(index, size, leaf, path) {
    if (!(index < size)) return null;
    let fn = index, sn = size - 1, r = leaf;
    for (const p of path) {
      if (sn === 0) return null;
      if (fn % 2 === 1 || fn === sn) {
        r = await nodeHash(p, r);
        if (fn % 2 === 0) {
          while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
        }
      } else {
        r = await nodeHash(r, p);
      }
      fn = Math.floor(fn / 2);
      sn = Math.floor(sn / 2);
    }
    return sn === 0 ? r : null;
  }

  // Microseconds since the epoch of an RFC 3339 UTC time as the ledger
  // writes it; null (the empty tree) is 0.
  function micros(timestamp) {
    if (timestamp === null || timestamp === undefined) return 0n;
    const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?Z$/.exec(timestamp);
    if (!m) throw new Error('bad timestamp ' + timestamp);
    const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    return BigInt(ms) * 1000n + BigInt((m[7] || '').padEnd(6, '0'));
  }

  function headMessage(head) {
    const numbers = new DataView(new ArrayBuffer(16));
    numbers.setBigUint64(0, BigInt(head.size));
    numbers.setBigUint64(8, micros(head.timestamp));
    return concat(new TextEncoder().encode(HEAD_LINE), new Uint8Array(numbers.buffer),
                  fromHex(head.root_hash));
  }

  // The Ed25519 key of a PEM "PUBLIC KEY" block, and the SHA-256 of its raw
  // 32 bytes as hex: the fingerprint an investigator compares with the one
  // they hold.
  async function importKey(pem) {
    const b64 = pem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    const der = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const key = await crypto.subtle.importKey('spki', der, { name: 'Ed25519' }, false, ['verify']);
    return { key, fingerprint: toHex(await sha256(der.slice(der.length - 32))) };
  }

  async function headSigned(head, key) {
    return crypto.subtle.verify({ name: 'Ed25519' }, key, fromHex(head.signature),
                               headMessage(head));
  }

  // Checks one inclusion proof (the answer of /v1/ledger/proof/inclusion)
  // for the event whose chain hash the page shows as `eventHash`, against
  // `expectedHead` (the head the view was computed at) and the ledger key.
  // Returns { ok, problems: [text] }; every check runs, so the reasons are
  // all given.
  async function checkInclusion(proof, eventHash, expectedHead, key) {
    const problems = [];
    const fail = (text) => problems.push(text);
    try {
      const bytes = proof.leaf === undefined ? null : fromHex(proof.leaf);
      let leaf = fromHex(proof.leaf_hash);
      if (bytes) {
        const computed = await leafHash(bytes);
        if (toHex(computed) !== proof.leaf_hash) fail('the leaf hash is not that of the event\'s bytes');
        leaf = computed;
        const link = await sha256(fromHex(proof.prev_hash), bytes);
        if (toHex(link) !== eventHash) fail('the event\'s bytes do not give its chain hash');
      } else {
        fail('the event\'s bytes were not served');
      }
      if (proof.hash !== eventHash) fail('the proof is for another event');
      if (proof.leaf_index !== proof.seq - 1) fail('the leaf index is not the event\'s');
      const head = proof.tree_head;
      if (head.size !== proof.size) fail('the tree head is of another size');
      if (expectedHead && (head.size !== expectedHead.size || head.root_hash !== expectedHead.root_hash)) {
        fail('the tree head is not the one the page was computed at');
      }
      const root = await rootFromPath(proof.leaf_index, proof.size, leaf, proof.audit_path.map(fromHex));
      if (!root || toHex(root) !== head.root_hash) fail('the audit path does not lead to the signed root');
      if (!(await headSigned(head, key))) fail('the tree head\'s signature does not verify with the ledger key');
    } catch (err) {
      fail('the proof could not be read (' + err.message + ')');
    }
    return { ok: problems.length === 0, problems };
  }

  return { fromHex, toHex, leafHash, nodeHash, rootFromPath, headMessage, importKey, headSigned,
           checkInclusion };
})();

if (typeof module !== 'undefined') module.exports = LedgerProof;
