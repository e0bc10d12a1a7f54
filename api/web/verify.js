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
// Checkpoints (SPEC §9) are C2SP signed notes: Ed25519 over the note's
// text, under the key name = the origin; a witness's cosignature/v1 is
// Ed25519 over "cosignature/v1\ntime <T>\n" || the text.
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

  // --- C2SP signed notes, checkpoints and cosignatures (SPEC §9) ---

  const DASH = '\u2014 ';
  const b64 = (text) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

  // A signed note: its text (with the final newline) and its signature
  // lines { name, id (4 bytes), sig (the bytes after the id) }.
  function parseNote(message) {
    const split = message.lastIndexOf('\n\n');
    if (split < 0 || !message.endsWith('\n')) throw new Error('not a signed note');
    const text = message.slice(0, split + 1);
    const signatures = message.slice(split + 2, -1).split('\n').map((line) => {
      if (!line.startsWith(DASH)) throw new Error('a malformed signature line');
      const [name, sig, extra] = line.slice(DASH.length).split(' ');
      if (!name || !sig || extra !== undefined) throw new Error('a malformed signature line');
      const bytes = b64(sig);
      if (bytes.length < 5) throw new Error('a malformed signature line');
      return { name, id: bytes.slice(0, 4), sig: bytes.slice(4) };
    });
    return { text, signatures };
  }

  // A checkpoint's body: origin, size and root (hex).
  function parseCheckpoint(text) {
    const lines = text.split('\n');
    if (lines.length !== 4 || lines[3] !== '' || !/^(0|[1-9][0-9]*)$/.test(lines[1])) {
      throw new Error('not a checkpoint');
    }
    const root = b64(lines[2]);
    if (root.length !== 32) throw new Error('not a checkpoint');
    return { origin: lines[0], size: Number(lines[1]), root: toHex(root) };
  }

  // A verifier key "<name>+<hex id>+<base64(type || key)>" of `type` (1: a
  // log's Ed25519 key; 4: a witness's cosignature/v1 key), its id checked:
  // { name, id, key (CryptoKey), raw }.
  async function importVkey(vkey, type) {
    // The base64 key may hold '+' itself: split at the first two only.
    const a = vkey.indexOf('+'), b = a < 0 ? -1 : vkey.indexOf('+', a + 1);
    const [name, hex, material] = b < 0 ? [] : [vkey.slice(0, a), vkey.slice(a + 1, b), vkey.slice(b + 1)];
    const bytes = b64(material || '');
    if (!name || !/^[0-9a-f]{8}$/.test(hex || '') || bytes.length !== 33 || bytes[0] !== type) {
      throw new Error('not a verifier key of type ' + type);
    }
    const id = (await sha256(new TextEncoder().encode(name + '\n'), bytes)).slice(0, 4);
    if (toHex(id) !== hex) throw new Error('the verifier key\'s id does not match it');
    const raw = bytes.slice(1);
    const key = await crypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, false, ['verify']);
    return { name, id, key, raw };
  }

  const sameId = (a, b) => a.length === 4 && a.every((x, i) => x === b[i]);

  // Whether the note carries a valid signature by the log's key.
  async function noteSigned(note, vkey) {
    for (const s of note.signatures) {
      if (s.name === vkey.name && sameId(s.id, vkey.id) && s.sig.length === 64 &&
          await crypto.subtle.verify({ name: 'Ed25519' }, vkey.key, s.sig,
                                     new TextEncoder().encode(note.text))) {
        return true;
      }
    }
    return false;
  }

  // The time (POSIX seconds) of a valid cosignature/v1 of the note by the
  // witness key, or null.
  async function cosignedBy(note, vkey) {
    for (const s of note.signatures) {
      if (s.name !== vkey.name || !sameId(s.id, vkey.id) || s.sig.length !== 72) continue;
      const time = new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0);
      const message = new TextEncoder().encode(`cosignature/v1\ntime ${time}\n${note.text}`);
      if (await crypto.subtle.verify({ name: 'Ed25519' }, vkey.key, s.sig.slice(8), message)) {
        return Number(time);
      }
    }
    return null;
  }

  return { fromHex, toHex, leafHash, nodeHash, rootFromPath, headMessage, importKey, headSigned,
           checkInclusion, parseNote, parseCheckpoint, importVkey, noteSigned, cosignedBy };
})();

if (typeof module !== 'undefined') module.exports = LedgerProof;
