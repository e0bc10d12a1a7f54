// Command tlogcheck checks a rehab access ledger's transparency log (SPEC §9)
// over HTTP with code its authors did not write: Go's
// golang.org/x/mod/sumdb/note (signed notes) and golang.org/x/mod/sumdb/tlog
// (RFC 6962 trees, hash tiles, proofs), as Debian packages them
// (golang-golang-x-mod-dev). It uses nothing else but the standard library,
// so that what it accepts is what an independent C2SP client accepts.
//
//	tlogcheck -url BASE -vkey VKEY -token TOKEN [-old-checkpoint FILE] [-save-checkpoint FILE]
//
// It checks, in order:
//  1. GET BASE/log/checkpoint is a signed note with a valid signature by
//     VKEY (other signature lines, such as witness cosignatures, are
//     ignored), whose body names the key's own origin, a size and a root.
//  2. The hash tiles (GET BASE/log/tile/<L>/<N>[.p/<W>], height 8) read
//     through tlog.TileHashReader, which authenticates the tiles it reads
//     against the checkpoint's root (each full tile is also checked against
//     its parent here: see tileReader); tlog.TreeHash over them is the root.
//  3. Every entry bundle (GET BASE/log/tile/entries/<N>[.p/<W>], with
//     "Authorization: Bearer TOKEN"): exactly W entries, each its
//     canonical bytes after a big-endian uint16 length; each entry's
//     tlog.RecordHash (SHA-256(0x00 || bytes)) equals the authenticated
//     leaf hash at its index, and the first, middle and last entry of each
//     bundle are also proven into the root with tlog.ProveRecord and
//     tlog.CheckRecord.
//  4. With -old-checkpoint: that saved note is verified the same way, and a
//     consistency proof from its tree to the new one (tlog.ProveTree over
//     the authenticated tiles, tlog.CheckTree against both roots) holds.
//
// -save-checkpoint writes the checkpoint as served, once everything holds.
//
// Output: one line. Exit 0 when everything holds ("OK: ..."), 1 when the log
// fails a check ("REJECTED: ..."), 2 when it could not be checked (bad
// flags, network, an HTTP status other than 200, a body that does not
// parse: "ERROR: ..." on standard error).
package main

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// tileHeight is c2sp.org/tlog-tiles' fixed height: 256 hashes a tile.
const tileHeight = 8
const tileWidth = 1 << tileHeight

// Body limits: a checkpoint is small; a bundle is at most 256 entries of at
// most 2 + 65,535 bytes.
const (
	maxCheckpointBytes = 1 << 20
	maxTileBytes       = tileWidth * tlog.HashSize
	maxBundleBytes     = tileWidth * (2 + 65535)
)

// rejection is a check the log failed (exit 1). Every other error means the
// log could not be checked (exit 2).
type rejection struct{ msg string }

func (r *rejection) Error() string { return r.msg }

func reject(format string, args ...interface{}) error {
	return &rejection{fmt.Sprintf(format, args...)}
}

// unchecked marks an error of fetching or parsing that reached the
// verifier through tlog (whose own errors are rejections).
type unchecked struct{ err error }

func (u *unchecked) Error() string { return u.err.Error() }

// fromTlog classifies an error returned by tlog over the tile reader: the
// reader's own failures could not check anything; anything tlog found
// (tiles inconsistent with the signed root) is a rejection.
func fromTlog(what string, err error) error {
	var u *unchecked
	if errors.As(err, &u) {
		return fmt.Errorf("%s: %w", what, u.err)
	}
	return reject("%s: %v", what, err)
}

// client fetches from the log.
type client struct {
	base  string
	token string
	http  *http.Client
	gets  int
}

// get fetches path; with auth it sends the bearer token. Anything but 200
// is an error.
func (c *client) get(path string, auth bool, limit int64) ([]byte, error) {
	req, err := http.NewRequest("GET", c.base+path, nil)
	if err != nil {
		return nil, err
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	c.gets++
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("GET %s: body over %d bytes", path, limit)
	}
	return body, nil
}

// tileIndex writes N as c2sp.org/tlog-tiles does: groups of three digits,
// every group but the last prefixed with "x" (1234067 -> x001/x234/067).
func tileIndex(n int64) string {
	s := fmt.Sprintf("%03d", n%1000)
	for n >= 1000 {
		n /= 1000
		s = fmt.Sprintf("x%03d/%s", n%1000, s)
	}
	return s
}

// widthSuffix is ".p/W" for a partial tile or bundle, nothing for a full one.
func widthSuffix(w int) string {
	if w == tileWidth {
		return ""
	}
	return fmt.Sprintf(".p/%d", w)
}

// tileReader is tlog's TileReader over the log's tile URLs. tlog.Tile.Path
// spells the go.sum database's "tile/H/L/N"; the C2SP spelling has no
// height, so the URL is written here. Tiles are kept in memory once read:
// every tile a call uses is authenticated again on that call (below and in
// tlog.TileHashReader), so a kept tile is never trusted without the check.
//
// Each full tile is checked here against its parent tile, which
// tlog.TileHashReader is meant to do itself: x/mod's loop "Authenticate
// full tiles against their parents" starts at the number of subtree
// indexes of the tree hash rather than at the number of distinct tiles
// holding them, so for most tree sizes (1,441 and 1,741 among them, not
// 512) a full level-0 tile read for a leaf is never compared with its
// parent, and its hashes come back as if authenticated (x/mod v0.7.0, and
// the same loop in a later version). Without this check a tile altered
// together with its entry would be caught only by the inclusion proofs of
// that bundle; run.sh's tampered-tile case expects this check's answer.
type tileReader struct {
	c     *client
	tiles map[tlog.Tile][]byte
}

// subtreeHash is the RFC 6962 hash of the complete subtree whose 2^k
// nodes data holds, as tlog hashes a full tile.
func subtreeHash(data []byte) tlog.Hash {
	if len(data) == tlog.HashSize {
		var h tlog.Hash
		copy(h[:], data)
		return h
	}
	half := len(data) / 2
	return tlog.NodeHash(subtreeHash(data[:half]), subtreeHash(data[half:]))
}

// authenticateChildren checks each full tile of one request whose parent
// tile is in the same request against the parent's hash for it.
// tlog.TileHashReader asks for every tile it does not check against the
// tree hash together with its parent, parents first.
func authenticateChildren(tiles []tlog.Tile, data [][]byte) error {
	for i, t := range tiles {
		if t.W != tileWidth {
			continue
		}
		for j, p := range tiles {
			if p.L != t.L+1 || p.N != t.N>>tileHeight {
				continue
			}
			want, err := tlog.HashFromTile(p, data[j], tlog.StoredHashIndex(p.L*tileHeight, t.N))
			if err != nil {
				return fmt.Errorf("tile %d/%d: no hash for it in its parent: %v", t.L, t.N, err)
			}
			if got := subtreeHash(data[i]); got != want {
				return fmt.Errorf("downloaded inconsistent tile: tile %d/%s hashes to %v, its parent tile holds %v",
					t.L, tileIndex(t.N), got, want)
			}
		}
	}
	return nil
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	data := make([][]byte, len(tiles))
	for i, t := range tiles {
		if t.H != tileHeight || t.L < 0 {
			return nil, &unchecked{fmt.Errorf("tile %+v is not a hash tile of height %d", t, tileHeight)}
		}
		if d, ok := r.tiles[t]; ok {
			data[i] = d
			continue
		}
		path := fmt.Sprintf("/log/tile/%d/%s%s", t.L, tileIndex(t.N), widthSuffix(t.W))
		d, err := r.c.get(path, false, maxTileBytes)
		if err != nil {
			return nil, &unchecked{err}
		}
		if len(d) != t.W*tlog.HashSize {
			return nil, &unchecked{fmt.Errorf("GET %s: %d bytes, not %d hashes", path, len(d), t.W)}
		}
		r.tiles[t] = d
		data[i] = d
	}
	if err := authenticateChildren(tiles, data); err != nil {
		return nil, err
	}
	return data, nil
}

// SaveTiles is told which tiles were authenticated; nothing is stored on
// disk, so there is nothing to do.
func (r *tileReader) SaveTiles([]tlog.Tile, [][]byte) {}

// checkpoint is a verified C2SP checkpoint.
type checkpoint struct {
	raw    []byte
	origin string
	size   int64
	root   tlog.Hash
}

// openCheckpoint verifies msg's signature by v (note.Open ignores
// signatures by keys it does not know, as witness cosignatures are) and
// parses its body: origin, size, base64 root (c2sp.org/tlog-checkpoint;
// extension lines after them are allowed there and ignored here).
func openCheckpoint(msg []byte, v note.Verifier) (*checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		var invalid *note.InvalidSignatureError
		if errors.As(err, &unverified) {
			return nil, reject("checkpoint: no signature by %s+%08x", v.Name(), v.KeyHash())
		}
		if errors.As(err, &invalid) {
			return nil, reject("checkpoint: %v", err)
		}
		return nil, fmt.Errorf("checkpoint: %v", err)
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("checkpoint: %d body lines, not origin, size and root", len(lines))
	}
	c := &checkpoint{raw: msg, origin: lines[0]}
	// The size: decimal, no sign, no leading zero.
	c.size, err = strconv.ParseInt(lines[1], 10, 64)
	if err != nil || c.size < 0 || strconv.FormatInt(c.size, 10) != lines[1] {
		return nil, fmt.Errorf("checkpoint: size %q", lines[1])
	}
	root, err := base64.StdEncoding.DecodeString(lines[2])
	if err != nil || len(root) != tlog.HashSize {
		return nil, fmt.Errorf("checkpoint: root %q", lines[2])
	}
	copy(c.root[:], root)
	// The key signs under the log's origin: a note it signed for another
	// origin is not this log's checkpoint.
	if c.origin != v.Name() {
		return nil, reject("checkpoint: origin %q is not the key's name %q", c.origin, v.Name())
	}
	// tlog calls the empty tree's hash all zeros; RFC 6962 (and the
	// ledger) call it SHA-256 of nothing.
	if c.size == 0 && c.root != tlog.Hash(sha256.Sum256(nil)) {
		return nil, reject("checkpoint: size 0 with root %v, not the empty tree's", c.root)
	}
	return c, nil
}

// parseBundle splits an entry bundle into its w entries: each a big-endian
// uint16 length then that many bytes, and nothing after the last.
func parseBundle(body []byte, w int) ([][]byte, error) {
	entries := make([][]byte, 0, w)
	for len(body) > 0 {
		if len(body) < 2 {
			return nil, fmt.Errorf("a length cut short after %d entries", len(entries))
		}
		n := int(binary.BigEndian.Uint16(body))
		if len(body)-2 < n {
			return nil, fmt.Errorf("entry %d: length %d, only %d bytes left", len(entries), n, len(body)-2)
		}
		entries = append(entries, body[2:2+n])
		body = body[2+n:]
	}
	if len(entries) != w {
		return nil, fmt.Errorf("%d entries, not %d", len(entries), w)
	}
	return entries, nil
}

// summary counts what was checked, for the one line printed.
type summary struct {
	bundles, entries, proofs int
	consistentWith           *checkpoint
}

// checkEntries fetches every bundle of the tree and checks every entry
// against the authenticated leaf hashes, proving some into the root too.
func checkEntries(c *client, cp *checkpoint, hr tlog.HashReader, s *summary) error {
	for start := int64(0); start < cp.size; start += tileWidth {
		w := tileWidth
		if cp.size-start < tileWidth {
			w = int(cp.size - start)
		}
		n := start / tileWidth
		path := fmt.Sprintf("/log/tile/entries/%s%s", tileIndex(n), widthSuffix(w))
		body, err := c.get(path, true, maxBundleBytes)
		if err != nil {
			return err
		}
		entries, err := parseBundle(body, w)
		if err != nil {
			return fmt.Errorf("GET %s: %v", path, err)
		}
		indexes := make([]int64, w)
		for i := range indexes {
			indexes[i] = tlog.StoredHashIndex(0, start+int64(i))
		}
		leaves, err := hr.ReadHashes(indexes)
		if err != nil {
			return fromTlog(fmt.Sprintf("leaf hashes of bundle %d", n), err)
		}
		if len(leaves) != w {
			return fmt.Errorf("leaf hashes of bundle %d: %d, not %d", n, len(leaves), w)
		}
		for i, e := range entries {
			if tlog.RecordHash(e) != leaves[i] {
				return reject("entry %d (bundle %d, #%d): its hash %v is not the leaf hash %v the signed tree holds",
					start+int64(i), n, i, tlog.RecordHash(e), leaves[i])
			}
		}
		// The same entries proven into the signed root on their own, by
		// an audit path rather than the tiles' stored leaves.
		for _, i := range []int{0, w / 2, w - 1} {
			index := start + int64(i)
			proof, err := tlog.ProveRecord(cp.size, index, hr)
			if err != nil {
				return fromTlog(fmt.Sprintf("inclusion proof of entry %d", index), err)
			}
			if err := tlog.CheckRecord(proof, cp.size, cp.root, index, tlog.RecordHash(entries[i])); err != nil {
				return reject("entry %d is not in the signed tree: %v", index, err)
			}
			s.proofs++
		}
		s.bundles++
		s.entries += w
	}
	return nil
}

// checkConsistency proves that the old checkpoint's tree is a prefix of
// the new one's.
func checkConsistency(old, cp *checkpoint, hr tlog.HashReader) error {
	if old.origin != cp.origin {
		return reject("old checkpoint's origin %q is not %q", old.origin, cp.origin)
	}
	if old.size > cp.size {
		return reject("the log shrank: old checkpoint has %d entries, the new one %d", old.size, cp.size)
	}
	if old.size == 0 {
		return nil // the empty tree is a prefix of every tree
	}
	proof, err := tlog.ProveTree(cp.size, old.size, hr)
	if err != nil {
		return fromTlog("consistency proof", err)
	}
	if err := tlog.CheckTree(proof, cp.size, cp.root, old.size, old.root); err != nil {
		return reject("the tree of size %d (root %v) is not a prefix of the tree of size %d (root %v): %v",
			old.size, old.root, cp.size, cp.root, err)
	}
	return nil
}

func run() (string, error) {
	base := flag.String("url", "", "the ledger's base URL (http://host:port)")
	vkey := flag.String("vkey", "", "the log's signed-note verifier key <origin>+<hex id>+<base64 key>")
	token := flag.String("token", "", "a regulator's or auditor's bearer token (for the entry bundles)")
	oldFile := flag.String("old-checkpoint", "", "a checkpoint saved earlier, to prove consistency from")
	saveFile := flag.String("save-checkpoint", "", "where to write the checkpoint once it is checked")
	timeout := flag.Duration("timeout", 30*time.Second, "each HTTP request's time limit")
	flag.Parse()
	if *base == "" || *vkey == "" || *token == "" || flag.NArg() != 0 {
		flag.Usage()
		return "", errors.New("-url, -vkey and -token are required")
	}
	v, err := note.NewVerifier(*vkey)
	if err != nil {
		return "", fmt.Errorf("-vkey: %v", err)
	}
	c := &client{base: strings.TrimSuffix(*base, "/"), token: *token, http: &http.Client{Timeout: *timeout}}

	var old *checkpoint
	if *oldFile != "" {
		msg, err := os.ReadFile(*oldFile)
		if err != nil {
			return "", err
		}
		if old, err = openCheckpoint(msg, v); err != nil {
			return "", fmt.Errorf("%s: %w", *oldFile, err)
		}
	}

	msg, err := c.get("/log/checkpoint", false, maxCheckpointBytes)
	if err != nil {
		return "", err
	}
	cp, err := openCheckpoint(msg, v)
	if err != nil {
		return "", err
	}

	s := &summary{}
	tr := &tileReader{c: c, tiles: make(map[tlog.Tile][]byte)}
	if cp.size > 0 {
		hr := tlog.TileHashReader(tlog.Tree{N: cp.size, Hash: cp.root}, tr)
		th, err := tlog.TreeHash(cp.size, hr)
		if err != nil {
			return "", fromTlog("tree hash from the tiles", err)
		}
		if th != cp.root {
			return "", reject("the tiles hash to %v, the checkpoint signs %v", th, cp.root)
		}
		if err := checkEntries(c, cp, hr, s); err != nil {
			return "", err
		}
		if old != nil {
			if err := checkConsistency(old, cp, hr); err != nil {
				return "", err
			}
		}
	} else if old != nil && old.size != 0 {
		return "", reject("the log shrank: old checkpoint has %d entries, the new one 0", old.size)
	}

	if *saveFile != "" {
		if err := os.WriteFile(*saveFile, cp.raw, 0o644); err != nil {
			return "", err
		}
	}
	line := fmt.Sprintf("OK: %s size %d root %v: %d hash tiles authenticated, %d entries in %d bundles match their leaf hashes, %d inclusion proofs",
		cp.origin, cp.size, cp.root, len(tr.tiles), s.entries, s.bundles, s.proofs)
	if old != nil {
		line += fmt.Sprintf(", consistent with the checkpoint of size %d", old.size)
	}
	return line + fmt.Sprintf(" (%d requests)", c.gets), nil
}

func main() {
	line, err := run()
	var r *rejection
	switch {
	case err == nil:
		fmt.Println(line)
	case errors.As(err, &r):
		fmt.Println("REJECTED: " + err.Error())
		os.Exit(1)
	default:
		fmt.Fprintln(os.Stderr, "ERROR: could not check: "+err.Error())
		os.Exit(2)
	}
}
