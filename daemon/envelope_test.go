package daemon

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/alluxio-go/alluxio/daemon/rpc"
	"github.com/alluxio-go/alluxio/daemon/wire"
	"github.com/alluxio-go/alluxio/meta"
)

// TestInfoAnswers: a master answers a status, or a stamp with the statuses
// a change made, in binary when the body asks for it
// (wire.BinaryAnswerField) and in JSON otherwise, as an older client
// expects; the fields a client adds to a body (request id, caller, binary
// answer) all take effect when they come together, and one of them of
// the wrong type is left out without losing the others.
func TestInfoAnswers(t *testing.T) {
	sc := startSCCluster(t, "64MB")
	ctx := context.Background()
	m := sc.master
	if _, err := m.meta.CreateDirectory(ctx, "/open", meta.MkdirOptions{Mode: 0o777}); err != nil {
		t.Fatal(err)
	}
	cl := rpc.NewClient("tcp", sc.rpc)
	t.Cleanup(func() { cl.Close() })
	call := func(method, body string) (wire.StampedInfo, rpc.Result) {
		t.Helper()
		var r wire.StampedInfo
		res, err := cl.Call(ctx, method, json.RawMessage(body), nil, &r, nil)
		if err != nil {
			t.Fatalf("%s %s: %v", method, body, err)
		}
		return r, res
	}
	binary := func(method, body string) wire.StampedInfo {
		t.Helper()
		r, res := call(method, body)
		if res.Data == nil || r.ID != 0 {
			t.Fatalf("%s %s: no binary answer (data %d bytes, JSON %+v)", method, body, len(res.Data), r)
		}
		s, err := wire.DecodeStampedInfo(res.Data, method)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	j, res := call(wire.MasterGetStatus, `{"path":"/open","probe":true}`)
	if res.Data != nil || !j.IsDir || j.Path != "/open" || j.NS == nil {
		t.Fatalf("JSON stat: data %d bytes, %+v", len(res.Data), j)
	}
	b := binary(wire.MasterGetStatus, `{"path":"/open","probe":true,"binAnswer":true,"binExt":true}`)
	if b.FileInfo != j.FileInfo || b.NS == nil || !b.Loaded {
		t.Fatalf("binary stat differs from JSON:\n got %+v\nwant %+v", b, j)
	}
	// A client from before wire.BinaryExtField gets the format it reads,
	// without Loaded.
	old, res := call(wire.MasterGetStatus, `{"path":"/open","probe":true,"binAnswer":true}`)
	if len(res.Data) == 0 || res.Data[0] != 1 || old.ID != 0 {
		t.Fatalf("binary stat for an older client: %q, JSON %+v", res.Data, old)
	}
	if b := binary(wire.MasterGetStatus, `{"path":"/open","probe":true,"binAnswer":true}`); b.Loaded || b.Path != "/open" {
		t.Fatalf("binary stat for an older client: %+v", b)
	}
	if b := binary(wire.MasterGetStatus, `{"path":"/open/none","probe":true,"binAnswer":true}`); !b.Missing || b.NS == nil {
		t.Fatalf("binary probe of a missing path: %+v", b)
	}

	rid := meta.NewRequestID().String()
	create := `{"requestId":"` + rid + `","caller":{"uid":1234,"gid":99},"binAnswer":true,"path":"/open/f","options":{"mode":420}}`
	first := binary(wire.MasterCreateFile, create)
	if first.Path != "/open/f" || first.UID != 1234 || first.GID != 99 || first.NS == nil {
		t.Fatalf("create: %+v", first)
	}
	// The same request id again is the same create, answered as before,
	// not a second one (which would be EEXIST or a new inode).
	if again := binary(wire.MasterCreateFile, create); again.ID != first.ID {
		t.Fatalf("retried create made inode %d, first %d", again.ID, first.ID)
	}
	// A caller of the wrong type is left out; the request id still counts.
	rid = meta.NewRequestID().String()
	odd := `{"requestId":"` + rid + `","caller":"someone","path":"/open/g","options":{"mode":420}}`
	g, _ := call(wire.MasterCreateFile, odd)
	if again, _ := call(wire.MasterCreateFile, odd); g.ID == 0 || again.ID != g.ID || g.UID == 1234 {
		t.Fatalf("create with an odd caller: %+v, retried %+v", g, again)
	}
	if _, err := cl.Call(ctx, wire.MasterCreateFile, json.RawMessage(`{"requestId":"nothex","path":"/open/h"}`), nil, nil, nil); err == nil {
		t.Fatal("a malformed request id was taken")
	}

	// A call that answers with its stamp and the statuses it changed
	// (the parent of a removed file) answers in binary too.
	var done wire.Stamped
	res, err := cl.Call(ctx, wire.MasterDelete, json.RawMessage(`{"binAnswer":true,"path":"/open/f","unlink":true}`), nil, &done, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := wire.DecodeStamped(res.Data, wire.MasterDelete)
	if err != nil || d.NS == nil || len(d.Infos) != 1 || d.Infos[0].Path != "/open" || !d.Infos[0].IsDir {
		t.Fatalf("binary answer of a delete: %+v, %v", d, err)
	}
	if _, err := cl.Call(ctx, wire.MasterDelete, json.RawMessage(`{"path":"/open/g","unlink":true}`), nil, &done, nil); err != nil ||
		done.NS == nil || len(done.Infos) != 1 || done.Infos[0].Path != "/open" {
		t.Fatalf("JSON answer of a delete: %+v, %v", done, err)
	}
}
