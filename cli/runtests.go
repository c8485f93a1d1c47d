package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/alluxio-go/alluxio/daemon/client"
	"github.com/alluxio-go/alluxio/meta"
)

// Read and write types in the order Alluxio's runTests walks them.
var (
	readTypes  = []string{"CACHE_PROMOTE", "CACHE", "NO_CACHE"}
	writeTypes = []string{"MUST_CACHE", "CACHE_THROUGH", "THROUGH", "ASYNC_THROUGH"}
)

// testDir is where Alluxio's runTests writes.
const testDir = "/default_tests_files"

// basicOps are Alluxio's two basic tests: BasicFile writes a buffer of
// ints at once, BasicNonByteBuffer writes the bytes one call at a time.
var basicOps = []struct {
	name  string
	write func(w io.Writer, data []byte) error
}{
	{"BasicFile", func(w io.Writer, data []byte) error { _, err := w.Write(data); return err }},
	{"BasicNonByteBuffer", func(w io.Writer, data []byte) error {
		for i := range data {
			if _, err := w.Write(data[i : i+1]); err != nil {
				return err
			}
		}
		return nil
	}},
}

// testData is 20 big-endian ints 0..19, as Alluxio's BasicOperations.
func testData() []byte {
	var b bytes.Buffer
	for i := int32(0); i < 20; i++ {
		binary.Write(&b, binary.BigEndian, i)
	}
	return b.Bytes()
}

func runTests(ctx context.Context, env *Env, args []string) error {
	c := newClient(env)
	defer c.Close()
	failed := 0
	total := 0
	for _, op := range basicOps {
		for _, rt := range readTypes {
			for _, wt := range writeTypes {
				total++
				name := fmt.Sprintf("%s_%s_%s", op.name, rt, wt)
				fmt.Fprintf(env.Stdout, "runTest %s\n", name)
				if err := runOne(ctx, env, c, op.name, rt, wt); err != nil {
					failed++
					fmt.Fprintf(env.Stdout, "Failed the test %s: %v\n", name, err)
					continue
				}
				fmt.Fprintln(env.Stdout, "Passed the test!")
			}
		}
	}
	fmt.Fprintf(env.Stdout, "%d tests, %d passed, %d failed\n", total, total-failed, failed)
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d of %d tests failed", failed, total)}
	}
	return nil
}

func runTest(ctx context.Context, env *Env, args []string) error {
	op, rt, wt := "BASIC", "", ""
	var pos []string
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--operation", "--readType", "--writeType":
			if i+1 >= len(args) {
				return usageError("%s wants a value", args[i])
			}
			v := args[i+1]
			switch args[i] {
			case "--operation":
				op = v
			case "--readType":
				rt = v
			default:
				wt = v
			}
			i++
		default:
			pos = append(pos, args[i])
		}
	}
	if len(pos) == 3 {
		op, rt, wt = pos[0], pos[1], pos[2]
	} else if len(pos) != 0 || rt == "" || wt == "" {
		return usageError("usage: alluxio runTest Basic|BasicNonByteBuffer READTYPE WRITETYPE")
	}
	name := map[string]string{"BASIC": "BasicFile", "Basic": "BasicFile", "BasicFile": "BasicFile",
		"BASIC_NON_BYTE_BUFFER": "BasicNonByteBuffer", "BasicNonByteBuffer": "BasicNonByteBuffer"}[op]
	if name == "" {
		return usageError("runTest: unknown operation %q (Basic or BasicNonByteBuffer)", op)
	}
	if !contains(readTypes, rt) {
		return usageError("runTest: unknown read type %q (want one of %v)", rt, readTypes)
	}
	if !contains(writeTypes, wt) {
		return usageError("runTest: unknown write type %q (want one of %v)", wt, writeTypes)
	}
	c := newClient(env)
	defer c.Close()
	if err := runOne(ctx, env, c, name, rt, wt); err != nil {
		fmt.Fprintf(env.Stdout, "Failed the test: %v\n", err)
		return &exitError{code: 1, err: err}
	}
	fmt.Fprintln(env.Stdout, "Passed the test!")
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runOne writes a test file with the write type, reads it back with the
// read type through a fresh open, and compares the bytes.
func runOne(ctx context.Context, env *Env, base *client.Client, op, rt, wt string) error {
	c := base.WithTypes(rt, wt)
	if _, err := c.CreateDirectory(ctx, testDir, meta.MkdirOptions{Mode: 0o755, Recursive: true, AllowExists: true}); err != nil {
		return fmt.Errorf("mkdir %s: %w", testDir, err)
	}
	p := fmt.Sprintf("%s/%s_%s_%s", testDir, op, rt, wt)
	data := testData()
	start := time.Now()
	w, err := c.CreateFile(ctx, p, client.CreateOptions{Mode: 0o644})
	if err != nil {
		return fmt.Errorf("create %s: %w", p, err)
	}
	write := basicOps[0].write
	for _, o := range basicOps {
		if o.name == op {
			write = o.write
		}
	}
	if err := write(w, data); err != nil {
		w.Close()
		return fmt.Errorf("write %s: %w", p, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("close %s: %w", p, err)
	}
	fmt.Fprintf(env.Stdout, "writeFile to file %s took %d ms.\n", p, time.Since(start).Milliseconds())
	start = time.Now()
	r, err := c.OpenFile(ctx, p)
	if err != nil {
		return fmt.Errorf("open %s: %w", p, err)
	}
	defer r.Close()
	got := make([]byte, len(data)+1)
	n, err := r.ReadAt(ctx, got, 0)
	if err != nil && err != io.EOF {
		return fmt.Errorf("read %s: %w", p, err)
	}
	if !bytes.Equal(got[:n], data) {
		return fmt.Errorf("read %s: got %d bytes that differ from the %d written", p, n, len(data))
	}
	fmt.Fprintf(env.Stdout, "readFile file %s took %d ms.\n", p, time.Since(start).Milliseconds())
	return nil
}
