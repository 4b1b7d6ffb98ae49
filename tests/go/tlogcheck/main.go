// tlogcheck checks the workbench's transparency-log output with Go's own code (golang.org/x/mod/sumdb/note and
// sumdb/tlog), which nobody in this project wrote. It reads one JSON request on stdin and writes what Go
// computes and accepts on stdout; tests/test_tlog_interop.py builds it and compares.
package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type proof struct {
	Index, Size, Old, New        int64
	Root, OldRoot, NewRoot, Leaf tlog.Hash
	Hashes                       []tlog.Hash
}

type request struct {
	Leaves      [][]byte
	Note, Vkey  string
	Cosigners   map[string][]byte // name -> 32-byte Ed25519 public key
	Inclusion   []proof
	Consistency []proof
}

// cosigner verifies C2SP tlog-cosignature cosignature/v1 lines (x/mod has no code for them): signature type
// 0x04 in the key hash, and the signature is an 8-byte big-endian time followed by Ed25519 over
// "cosignature/v1\ntime <t>\n" and the note text.
type cosigner struct {
	name string
	key  ed25519.PublicKey
}

func (c cosigner) Name() string { return c.name }
func (c cosigner) KeyHash() uint32 {
	sum := sha256.Sum256(append([]byte(c.name+"\n\x04"), c.key...))
	return binary.BigEndian.Uint32(sum[:4])
}
func (c cosigner) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig[:8])
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), msg...)
	return ed25519.Verify(c.key, signed, sig[8:])
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func main() {
	var req request
	if err := json.NewDecoder(os.Stdin).Decode(&req); err != nil {
		panic(err)
	}
	out := map[string]interface{}{}

	// the tree, as the Go checksum database stores it
	var stored []tlog.Hash
	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		hs := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			hs[i] = stored[x]
		}
		return hs, nil
	})
	roots := []tlog.Hash{}
	for i, leaf := range req.Leaves {
		hs, err := tlog.StoredHashes(int64(i), leaf, reader)
		if err != nil {
			panic(err)
		}
		stored = append(stored, hs...)
		root, _ := tlog.TreeHash(int64(i+1), reader)
		roots = append(roots, root)
	}
	out["roots"] = roots
	var incl, cons []map[string]interface{}
	// Go proves from its own tree only where it has the leaves; it checks every proof it is given
	known := func(size int64) bool { return size <= int64(len(req.Leaves)) }
	for _, p := range req.Inclusion {
		var goProof tlog.RecordProof
		var err error
		if known(p.Size) {
			goProof, err = tlog.ProveRecord(p.Size, p.Index, reader)
		}
		incl = append(incl, map[string]interface{}{"go": goProof, "prove_error": errText(err),
			"check": errText(tlog.CheckRecord(p.Hashes, p.Size, p.Root, p.Index, p.Leaf))})
	}
	for _, p := range req.Consistency {
		var goProof tlog.TreeProof
		var err error
		if known(p.New) {
			goProof, err = tlog.ProveTree(p.New, p.Old, reader)
		}
		cons = append(cons, map[string]interface{}{"go": goProof, "prove_error": errText(err),
			"check": errText(tlog.CheckTree(p.Hashes, p.New, p.NewRoot, p.Old, p.OldRoot))})
	}
	out["inclusion"], out["consistency"] = incl, cons

	if req.Note != "" {
		verifiers := []note.Verifier{}
		v, err := note.NewVerifier(req.Vkey)
		out["vkey_error"] = errText(err)
		if err == nil {
			verifiers = append(verifiers, v)
		}
		for name, key := range req.Cosigners {
			verifiers = append(verifiers, cosigner{name, key})
		}
		n, err := note.Open([]byte(req.Note), note.VerifierList(verifiers...))
		out["open_error"] = errText(err)
		if err == nil {
			signers := []string{}
			for _, s := range n.Sigs {
				signers = append(signers, s.Name)
			}
			out["signers"], out["text"] = signers, n.Text
			// ParseTree reads the size and hash lines after sumdb's own first line: give it ours without the origin
			lines := strings.SplitN(n.Text, "\n", 2)
			tree, err := tlog.ParseTree([]byte("go.sum database tree\n" + lines[1]))
			out["origin"], out["tree"], out["tree_error"] = lines[0], tree, errText(err)
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		panic(err)
	}
}
